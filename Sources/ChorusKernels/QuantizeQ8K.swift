import CQuantBlocks

/// Quantise `blocks * 256` floats into Q8_K activation super-blocks exactly as ggml's
/// quantize_row_q8_K (which on x86 is quantize_row_q8_K_ref), so K-quant products see the same
/// integers llama.cpp does:
/// - `max` is the first value of largest magnitude, `iscale = -127 / max`;
/// - q = round-half-even(iscale * x) (ggml's nearest_int), capped at 127;
/// - d = 1 / iscale (f32, not rounded through half); bsums = sums of each 16 q.
/// An all-zero block gets d = 0 and zero values.
@inline(__always)
public func quantizeRowQ8K(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<ChorusQ8KBlock>, blocks: Int) {
    for b in 0..<blocks {
        let src = UnsafeRawPointer(x + b * 256)
        let dst = UnsafeMutableRawPointer(out + b)
        var amaxLanes = SIMD8<Float>()
        for i in 0..<32 {
            let v = src.loadUnaligned(fromByteOffset: 32 * i, as: SIMD8<Float>.self)
            amaxLanes = lanewiseMax(amaxLanes, magnitude(v))
        }
        let amax = amaxLanes.max()
        guard amax > 0 else {
            dst.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes(ChorusQ8KBlock.self))
            continue
        }
        // The first value whose magnitude is amax (ggml keeps the first on ties).
        var first = 0
        while first < 255 && abs(x[b * 256 + first]) != amax { first += 1 }
        let iscale = -127 / x[b * 256 + first]
        let scale = SIMD8<Float>(repeating: iscale)
        let cap = SIMD8<Int32>(repeating: 127)
        for g in 0..<16 {  // 16 values per group: one bsum each
            let v0 = src.loadUnaligned(fromByteOffset: 64 * g, as: SIMD8<Float>.self)
            let v1 = src.loadUnaligned(fromByteOffset: 64 * g + 32, as: SIMD8<Float>.self)
            var q0 = roundedToInt32(v0 * scale), q1 = roundedToInt32(v1 * scale)
            q0.replace(with: cap, where: q0 .> cap)
            q1.replace(with: cap, where: q1 .> cap)
            dst.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q0), toByteOffset: fieldOffset(\ChorusQ8KBlock.qs) + 16 * g, as: SIMD8<Int8>.self)
            dst.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q1), toByteOffset: fieldOffset(\ChorusQ8KBlock.qs) + 16 * g + 8, as: SIMD8<Int8>.self)
            dst.storeBytes(of: Int16((q0 &+ q1).wrappedSum()), toByteOffset: fieldOffset(\ChorusQ8KBlock.bsums) + 2 * g, as: Int16.self)
        }
        dst.storeBytes(of: 1 / iscale, toByteOffset: fieldOffset(\ChorusQ8KBlock.d), as: Float.self)
    }
}

/// Round half to even and convert, for |v| < 2^22: v + 1.5 * 2^23 leaves the rounded integer in the
/// low mantissa bits (ggml's nearest_int). Swift's generic `SIMD8<Int32>(v.rounded(...))` goes
/// through a scalar per-lane conversion that cost a quarter of a 16-row prefill.
@inline(__always)
func roundedToInt32(_ v: SIMD8<Float>) -> SIMD8<Int32> {
    let bits = unsafeBitCast(v + SIMD8<Float>(repeating: 12_582_912), to: SIMD8<Int32>.self)
    return (bits & 0x007F_FFFF) &- 0x0040_0000
}

/// Lane-wise maximum: Swift's generic `pointwiseMax` stayed an out-of-line call in the quantisers.
@inline(__always)
func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: b .> a)
}

/// |v| lane by lane (the sign bit cleared).
@inline(__always)
func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
}
