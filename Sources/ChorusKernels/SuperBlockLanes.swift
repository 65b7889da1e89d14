import CChorusKernels

/// Pieces of the K-quant dot products shared by the Swift twins: reading a Q8_K activation
/// super-block and building the per-lane scale vectors. Integer lanes follow `laneDot`: lane i of a
/// 32-value chunk covers values 4i..4i+3, so lanes 0-3 are the chunk's first 16-value sub-block and
/// lanes 4-7 its second.
enum SuperBlockLanes {
    /// The activation scale d.
    @inline(__always)
    static func scale(_ x: UnsafeRawPointer) -> Float { x.load(as: Float.self) }

    /// Activation values 32c..32c+31.
    @inline(__always)
    static func chunk(_ x: UnsafeRawPointer, _ c: Int) -> SIMD32<Int8> {
        x.loadUnaligned(fromByteOffset: 4 + 32 * c, as: SIMD32<Int8>.self)
    }

    /// The 16 sums of 16 activation values.
    @inline(__always)
    static func bsums(_ x: UnsafeRawPointer) -> SIMD16<Int32> {
        SIMD16<Int32>(truncatingIfNeeded: x.loadUnaligned(fromByteOffset: 260, as: SIMD16<Int16>.self))
    }

    /// Scale `lo` for lanes 0-3, `hi` for lanes 4-7.
    @inline(__always)
    static func pair<T: BinaryInteger>(_ lo: T, _ hi: T) -> SIMD8<Int32> {
        let l = Int32(lo), h = Int32(hi)
        return SIMD8(l, l, l, l, h, h, h, h)
    }

    /// 32 bytes of weights at `p`.
    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer) -> SIMD32<UInt8> { p.loadUnaligned(as: SIMD32<UInt8>.self) }
}
