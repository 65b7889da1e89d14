import CQuantBlocks

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

/// 32 bytes held as 16 little-endian words (byte 2i is the low byte of word i). The Swift twins do
/// their byte-wise work on words because lane-wise operations on 32-lane vectors (SIMD32<UInt8>)
/// compile to element-by-element loops with this toolchain, while 16-lane vectors vectorise.
@usableFromInline
typealias Bytes32 = SIMD16<UInt16>

/// `m` in every byte.
@inlinable @inline(__always)
func byteMask(_ m: UInt8) -> Bytes32 { Bytes32(repeating: UInt16(m) &* 0x0101) }

/// 32 bytes at `p`.
@inlinable @inline(__always)
func loadBytes32(_ p: UnsafeRawPointer) -> Bytes32 { p.loadUnaligned(as: Bytes32.self) }

/// Each byte shifted right by `n` and masked with `mask` (which must fit in 8 - n bits, so the
/// bits a word shift moves across bytes are dropped).
@inlinable @inline(__always)
func shiftRight(_ v: Bytes32, by n: Int, mask: UInt8) -> Bytes32 {
    (v &>> UInt16(truncatingIfNeeded: n)) & byteMask(mask)
}

/// Each byte shifted left by `n`; every byte must stay below 256 >> n (nothing crosses bytes).
@inlinable @inline(__always)
func shiftLeft(_ v: Bytes32, by n: Int) -> Bytes32 { v &<< UInt16(truncatingIfNeeded: n) }

/// Lane i = sum over j in 0..<4 of (a[4i+j] - offset) * b[4i+j] (a unsigned bytes, b signed bytes,
/// not -128, |a - offset| <= 128), exact in int32: the integers vpmaddubsw + vpmaddwd and vpdpbusd
/// produce (with an offset, those of dot(a, b) - dot(offset, b)). Each word's two byte products
/// are summed in int16 (|sum| <= 2 * 128 * 127 fits), then lane i adds the two words that make up
/// 32-bit lane i.
@inlinable @inline(__always)
func laneDot(_ a: Bytes32, _ b: Bytes32, minus offset: Int16 = 0) -> SIMD8<Int32> {
    let aw = unsafeBitCast(a, to: SIMD16<Int16>.self)
    return pairSums((aw & 0x00FF) &- offset, ((aw &>> 8) & 0x00FF) &- offset, unsafeBitCast(b, to: SIMD16<Int16>.self))
}

/// As `laneDot` for two signed operands (|a| <= 128, |b| <= 127): the integers the sign trick
/// (|a| times b with a's sign) gives.
@inlinable @inline(__always)
func laneDotSigned(_ a: Bytes32, _ b: Bytes32) -> SIMD8<Int32> {
    let aw = unsafeBitCast(a, to: SIMD16<Int16>.self)
    return pairSums((aw &<< 8) &>> 8, aw &>> 8, unsafeBitCast(b, to: SIMD16<Int16>.self))
}

/// Lanes of (aLow * bLow + aHigh * bHigh) per 16-bit word of b (bytes sign-extended), then the two
/// words of each 32-bit lane added in int32.
@inlinable @inline(__always)
func pairSums(_ aLow: SIMD16<Int16>, _ aHigh: SIMD16<Int16>, _ bw: SIMD16<Int16>) -> SIMD8<Int32> {
    let words = aLow &* ((bw &<< 8) &>> 8) &+ aHigh &* (bw &>> 8)
    let w = unsafeBitCast(words, to: SIMD8<Int32>.self)
    return ((w &<< 16) &>> 16) &+ (w &>> 16)
}

/// The 32 activation values of a block.
@inlinable @inline(__always)
func loadQs(_ block: UnsafePointer<ChorusQ8Block>) -> Bytes32 {
    UnsafeRawPointer(block).loadUnaligned(fromByteOffset: fieldOffset(\ChorusQ8Block.qs), as: Bytes32.self)
}

/// 16 bytes of nibbles to 32 values: low nibbles (weights 0..15) then high nibbles (16..31).
@inlinable @inline(__always)
func unpackNibbles(_ p: UnsafeRawPointer) -> Bytes32 {
    let raw = p.loadUnaligned(as: SIMD8<UInt16>.self)
    return Bytes32(lowHalf: raw & 0x0F0F, highHalf: (raw &>> 4) & 0x0F0F)
}
