import CChorusKernels
import ChorusGGUF
import ChorusKernels
import Testing

/// Computes the product with each available path and returns the outputs.
private func products(_ type: GGMLType, rows: Int, columns: Int, xRows: Int, seed: UInt64)
    -> (paths: [MatMul.Path: [Float]], reference: [Float])
{
    var rng = SplitMix(seed: seed)
    let bytes = randomWeightBytes(type, rows: rows, columns: columns, rng: &rng)
    let x = (0..<xRows * columns).map { _ in Float.random(in: -2...2, using: &rng) }
    return bytes.withUnsafeBytes { raw in
        let w = WeightMatrix(name: "w", type: type, rows: rows, columns: columns, data: raw.baseAddress!)
        let q = QuantizedActivations(maxRows: xRows, columns: columns)
        x.withUnsafeBufferPointer { for j in 0..<xRows { q.quantize(row: j, from: $0.baseAddress! + j * columns) } }
        var results: [MatMul.Path: [Float]] = [:]
        let original = MatMul.path
        for path in MatMul.Path.allCases where MatMul.setPath(path) == path {
            var y = [Float](repeating: .nan, count: xRows * rows)
            y.withUnsafeMutableBufferPointer {
                MatMul.multiply(w, q, xRows: xRows, into: $0.baseAddress!, yStride: rows, rows: 0..<rows)
            }
            results[path] = y
        }
        MatMul.setPath(original)
        // Reference: dequantised weights times the dequantised activations, in Double.
        var reference = [Float](repeating: 0, count: xRows * rows)
        var wrow = [Float](repeating: 0, count: columns)
        for r in 0..<rows {
            wrow.withUnsafeMutableBufferPointer { w.dequantizeRow(r, into: $0.baseAddress!) }
            for j in 0..<xRows {
                let blocks = q.row(j)
                var s = 0.0
                for c in 0..<columns {
                    let b = blocks[c / 32]
                    let xq = withUnsafeBytes(of: b.qs) { Int8(bitPattern: $0[c % 32]) }
                    s += Double(wrow[c]) * Double(b.d) * Double(xq)
                }
                if type == .q4_1 {
                    // The minimum term uses the activation block's stored s (= d * sum q, through half
                    // precision, as ggml's block_q8_1) instead of d * sum q.
                    for b in 0..<columns / 32 {
                        let m = Double(halfToFloat(raw.load(fromByteOffset: r * w.rowBytes + b * 20 + 2, as: UInt16.self)))
                        let blk = blocks[b]
                        let sum = withUnsafeBytes(of: blk.qs) { $0.reduce(0) { $0 + Int(Int8(bitPattern: $1)) } }
                        s += m * (Double(blk.s) - Double(blk.d) * Double(sum))
                    }
                }
                reference[j * rows + r] = Float(s)
            }
        }
        return (results, reference)
    }
}

/// Switching the int8 path is process-wide, so these cases run one at a time.
@Suite(.serialized) struct MatMulPathTests {
@Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0])
func everyPathIsBitIdenticalAndMatchesReference(type: GGMLType) {
    for (rows, columns, xRows) in [(1, 32, 1), (7, 96, 3), (33, 576, 5), (19, 1536, 9)] {
        let (paths, reference) = products(type, rows: rows, columns: columns, xRows: xRows, seed: UInt64(rows * columns))
        let swift = paths[.swift]!
        #expect(paths.count >= 1)
        for (path, y) in paths {
            #expect(y == swift, "path \(path) differs from the Swift path for \(type) \(rows)x\(columns)")
        }
        var maxError: Float = 0
        for (a, b) in zip(swift, reference) { maxError = max(maxError, abs(a - b) / max(1, abs(b))) }
        #expect(maxError < 1e-4, "max relative error \(maxError) for \(type)")
    }
}
}

@Test func rowOfABatchEqualsTheRowAlone() {
    // Batch invariance: the product of one activation row is the same bits alone or in a batch of 13.
    let type = GGMLType.q4_1
    var rng = SplitMix(seed: 7)
    let rows = 40, columns = 256
    let bytes = randomWeightBytes(type, rows: rows, columns: columns, rng: &rng)
    let x = (0..<13 * columns).map { _ in Float.random(in: -1...1, using: &rng) }
    bytes.withUnsafeBytes { raw in
        let w = WeightMatrix(name: "w", type: type, rows: rows, columns: columns, data: raw.baseAddress!)
        let batch = QuantizedActivations(maxRows: 13, columns: columns)
        let single = QuantizedActivations(maxRows: 1, columns: columns)
        x.withUnsafeBufferPointer { for j in 0..<13 { batch.quantize(row: j, from: $0.baseAddress! + j * columns) } }
        var all = [Float](repeating: 0, count: 13 * rows)
        all.withUnsafeMutableBufferPointer { MatMul.multiply(w, batch, xRows: 13, into: $0.baseAddress!, yStride: rows, rows: 0..<rows) }
        for j in [0, 5, 12] {
            x.withUnsafeBufferPointer { single.quantize(row: 0, from: $0.baseAddress! + j * columns) }
            var one = [Float](repeating: 0, count: rows)
            // Split the rows in two, as two workers would.
            one.withUnsafeMutableBufferPointer {
                MatMul.multiply(w, single, xRows: 1, into: $0.baseAddress!, yStride: rows, rows: 0..<17)
                MatMul.multiply(w, single, xRows: 1, into: $0.baseAddress!, yStride: rows, rows: 17..<rows)
            }
            #expect(Array(all[j * rows..<(j + 1) * rows]) == one)
        }
    }
}
