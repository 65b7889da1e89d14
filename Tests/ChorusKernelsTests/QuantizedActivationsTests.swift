import CQuantBlocks
import ChorusKernels
import Testing

/// ggml's quantize_row_q8_K_ref for one block of 256, written as plainly as the C: the value of
/// largest magnitude (first on ties) sets iscale = -127/max, nearest_int rounds with the 1.5*2^23
/// trick (ties to even), d = 1/iscale.
private func ggmlQuantizeQ8K(_ x: ArraySlice<Float>) -> (d: Float, qs: [Int8], bsums: [Int16]) {
    var max: Float = 0, amax: Float = 0
    for v in x where abs(v) > amax { amax = abs(v); max = v }
    if amax == 0 { return (0, [Int8](repeating: 0, count: 256), [Int16](repeating: 0, count: 16)) }
    func nearestInt(_ f: Float) -> Int32 {
        let val = f + 12582912
        return (Int32(bitPattern: val.bitPattern) & 0x007F_FFFF) - 0x0040_0000
    }
    let iscale = -127 / max
    let qs = x.map { Int8(min(127, nearestInt(iscale * $0))) }
    let bsums = (0..<16).map { g in Int16(qs[16 * g..<16 * g + 16].reduce(0) { $0 + Int($1) }) }
    return (1 / iscale, qs, bsums)
}

private func block(_ p: UnsafePointer<ChorusQ8KBlock>) -> (d: Float, qs: [Int8], bsums: [Int16]) {
    let b = p.pointee
    return (b.d, withUnsafeBytes(of: b.qs) { Array($0.bindMemory(to: Int8.self)) },
            withUnsafeBytes(of: b.bsums) { Array($0.bindMemory(to: Int16.self)) })
}

@Test func q8KQuantisationMatchesGGML() {
    var rng = SplitMix(seed: 99)
    var rows: [[Float]] = (0..<6).map { _ in (0..<256).map { _ in Float.random(in: -3...3, using: &rng) } }
    // Ties: max = -127 makes iscale exactly 1, so k + 0.5 must round to even.
    rows.append((0..<256).map { i in i == 0 ? -127 : Float(i % 9) - 4 + 0.5 })
    // Equal magnitudes of both signs: the first sets the sign of iscale.
    rows.append((0..<256).map { i in i == 3 ? 5 : i == 1 ? -5 : Float(i % 7) * 0.25 })
    rows.append((0..<256).map { i in i == 1 ? 5 : i == 3 ? -5 : Float(i % 7) * -0.25 })
    rows.append([Float](repeating: 0, count: 256))
    rows.append((0..<256).map { i in Float(i) * 1e-30 })  // tiny values stay finite
    let q = QuantizedActivations(maxRows: rows.count, columns: 256, formats: .k256)
    for (r, row) in rows.enumerated() {
        row.withUnsafeBufferPointer { q.quantize(row: r, from: $0.baseAddress!) }
        let got = block(q.superRow(r)), want = ggmlQuantizeQ8K(row[...])
        #expect(got.d.bitPattern == want.d.bitPattern, "row \(r): d \(got.d) vs \(want.d)")
        #expect(got.qs == want.qs, "row \(r): values")
        #expect(got.bsums == want.bsums, "row \(r): bsums")
    }
}

/// Quantising a row slice by slice (as a parallel FFN region does) gives the same blocks as the
/// whole row, in both formats.
@Test func columnRangesQuantiseLikeTheWholeRow() {
    var rng = SplitMix(seed: 5)
    let columns = 1536
    let x = (0..<columns).map { _ in Float.random(in: -1...1, using: &rng) }
    let whole = QuantizedActivations(maxRows: 1, columns: columns, formats: [.blocks32, .k256])
    let pieces = QuantizedActivations(maxRows: 2, columns: columns, formats: [.blocks32, .k256])
    x.withUnsafeBufferPointer { p in
        whole.quantize(row: 0, from: p.baseAddress!)
        for range in [512..<1024, 0..<256, 1024..<1536, 256..<512] {
            pieces.quantize(row: 1, columns: range, from: p.baseAddress! + range.lowerBound)
        }
    }
    let a32 = UnsafeRawBufferPointer(start: whole.row(0), count: columns / 32 * MemoryLayout<ChorusQ8Block>.stride)
    let b32 = UnsafeRawBufferPointer(start: pieces.row(1), count: columns / 32 * MemoryLayout<ChorusQ8Block>.stride)
    #expect(Array(a32) == Array(b32))
    let aK = UnsafeRawBufferPointer(start: whole.superRow(0), count: columns / 256 * MemoryLayout<ChorusQ8KBlock>.stride)
    let bK = UnsafeRawBufferPointer(start: pieces.superRow(1), count: columns / 256 * MemoryLayout<ChorusQ8KBlock>.stride)
    #expect(Array(aK) == Array(bK))
    #expect(MemoryLayout<ChorusQ8KBlock>.size == 292, "ggml's block_q8_K")
}
