import CQuantBlocks

/// Pieces of the K-quant dot products shared by the Swift twins: reading a Q8_K activation
/// super-block and building the per-lane scale vectors. Integer lanes follow `laneDot`: lane i of a
/// 32-value chunk covers values 4i..4i+3, so lanes 0-3 are the chunk's first 16-value sub-block and
/// lanes 4-7 its second.
enum SuperBlockLanes {
    /// The activation scale d.
    @inline(__always)
    static func scale(_ x: UnsafeRawPointer) -> Float { x.load(fromByteOffset: fieldOffset(\ChorusQ8KBlock.d), as: Float.self) }

    /// Activation values 32c..32c+31.
    @inline(__always)
    static func chunk(_ x: UnsafeRawPointer, _ c: Int) -> Bytes32 {
        x.loadUnaligned(fromByteOffset: fieldOffset(\ChorusQ8KBlock.qs) + 32 * c, as: Bytes32.self)
    }

    /// Sum of activation values 16i..16i+15.
    @inline(__always)
    static func bsum(_ x: UnsafeRawPointer, _ i: Int) -> Int32 {
        Int32(x.load(fromByteOffset: fieldOffset(\ChorusQ8KBlock.bsums) + 2 * i, as: Int16.self))
    }

    /// Lane l = w(2l) * bsum(2l) + w(2l+1) * bsum(2l+1): the 16 per-sub-block weights (mins or
    /// scales) against the activation sums, paired into 8 lanes as vpmaddwd pairs them.
    @inline(__always)
    static func pairedWithBsums(_ x: UnsafeRawPointer, _ w: (Int) -> Int32) -> SIMD8<Int32> {
        var out = SIMD8<Int32>()
        for l in 0..<8 { out[l] = w(2 * l) &* bsum(x, 2 * l) &+ w(2 * l + 1) &* bsum(x, 2 * l + 1) }
        return out
    }

    /// Scale `lo` for lanes 0-3, `hi` for lanes 4-7.
    @inline(__always)
    static func pair<T: BinaryInteger>(_ lo: T, _ hi: T) -> SIMD8<Int32> {
        let l = Int32(lo), h = Int32(hi)
        return SIMD8(l, l, l, l, h, h, h, h)
    }

    @inline(__always)
    static func bits(_ v: Bytes32, shift n: Int, mask: UInt8) -> Bytes32 {
        shiftRight(v, by: n, mask: mask)
    }

    /// 32 bytes of weights at `p`.
    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer) -> Bytes32 { loadBytes32(p) }
}
