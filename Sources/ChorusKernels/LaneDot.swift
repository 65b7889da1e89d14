import CChorusKernels

/// The accumulation contract shared by every quantised dot product (Swift and C paths alike):
/// per weight block, 8 int32 lanes (lane i = sum of byte products 4i..4i+3) are converted to float
/// and fused-multiply-added with the block's combined scale into 8 float lanes; at the end the lanes
/// are reduced in a fixed tree. Because each output element always follows this order, a row gives
/// the same bits whether it is computed alone, in a tile, or on another compute unit.
@usableFromInline
struct LaneAccumulator {
    @usableFromInline var lanes = SIMD8<Float>()

    @inlinable @inline(__always) init() {}

    @inlinable @inline(__always)
    mutating func add(_ ints: SIMD8<Int32>, scale: Float) {
        lanes.addProduct(SIMD8<Float>(repeating: scale), SIMD8<Float>(ints))
    }

    /// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), as the AVX2 horizontal sum computes it.
    @inlinable @inline(__always)
    var total: Float {
        let s = lanes.lowHalf + lanes.highHalf
        let h0 = s[0] + s[2]
        let h1 = s[1] + s[3]
        return h0 + h1
    }
}

/// Lane i = sum over j in 0..<4 of a[4i+j] * b[4i+j] (a unsigned bytes, b signed), exact in int32.
@inlinable @inline(__always)
func laneDot(_ a: SIMD32<UInt8>, _ b: SIMD32<Int8>) -> SIMD8<Int32> {
    let lo = SIMD16<Int16>(truncatingIfNeeded: a.lowHalf) &* SIMD16<Int16>(truncatingIfNeeded: b.lowHalf)
    let hi = SIMD16<Int16>(truncatingIfNeeded: a.highHalf) &* SIMD16<Int16>(truncatingIfNeeded: b.highHalf)
    // Products fit in int16 (|a| <= 255 is never used with |b| = 128 beyond int16: weights are <= 128).
    let l32 = SIMD16<Int32>(truncatingIfNeeded: lo)
    let h32 = SIMD16<Int32>(truncatingIfNeeded: hi)
    var out = SIMD8<Int32>()
    for i in 0..<4 {
        out[i] = l32[4 * i] &+ l32[4 * i + 1] &+ l32[4 * i + 2] &+ l32[4 * i + 3]
        out[i + 4] = h32[4 * i] &+ h32[4 * i + 1] &+ h32[4 * i + 2] &+ h32[4 * i + 3]
    }
    return out
}

@inlinable @inline(__always)
func loadQs(_ block: UnsafePointer<ChorusQ8Block>) -> SIMD32<Int8> {
    UnsafeRawPointer(block).loadUnaligned(fromByteOffset: 8, as: SIMD32<Int8>.self)
}

/// 16 bytes of nibbles to 32 values: low nibbles (weights 0..15) then high nibbles (16..31).
@inlinable @inline(__always)
func unpackNibbles(_ p: UnsafeRawPointer) -> SIMD32<UInt8> {
    let raw = p.loadUnaligned(as: SIMD16<UInt8>.self)
    return SIMD32<UInt8>(lowHalf: raw & 0x0F, highHalf: raw &>> 4)
}
