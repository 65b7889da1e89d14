import CChorusKernels

/// Activation rows quantised to int8 blocks of 32 (`ChorusQ8Block`: scale, scaled sum, 32 values), the
/// input format of every quantised matrix product. Quantising once per row lets each weight block
/// be consumed with integer multiply-adds.
///
/// Storage is owned and reused: `rows` x `blocksPerRow` blocks, allocated once at the maximum size.
public final class QuantizedActivations: @unchecked Sendable {
    public let maxRows: Int
    public let blocksPerRow: Int
    public let blocks: UnsafeMutablePointer<ChorusQ8Block>

    public init(maxRows: Int, columns: Int) {
        precondition(columns % 32 == 0, "activation width must be a multiple of 32")
        self.maxRows = maxRows
        self.blocksPerRow = columns / 32
        blocks = .allocate(capacity: max(1, maxRows * blocksPerRow))
    }

    deinit { blocks.deallocate() }

    public func row(_ r: Int) -> UnsafeMutablePointer<ChorusQ8Block> { blocks + r * blocksPerRow }

    /// Quantise `x[0..<32*blocksPerRow]` into row `r` (scale = max|x| / 127, round half to even,
    /// scales stored through half precision as ggml does).
    @inline(__always)
    public func quantize(row r: Int, from x: UnsafePointer<Float>) {
        quantizeRowQ8(x, into: row(r), blocks: blocksPerRow)
    }
}

/// Quantise `blocks * 32` floats into Q8 activation blocks.
@inline(__always)
public func quantizeRowQ8(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<ChorusQ8Block>, blocks: Int) {
    for b in 0..<blocks {
        let src = UnsafeRawPointer(x + b * 32)
        let v0 = src.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
        let v1 = src.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let v2 = src.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
        let v3 = src.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        let m = pointwiseMax(pointwiseMax(abs(v0), abs(v1)), pointwiseMax(abs(v2), abs(v3))).max()
        // As ggml's quantize_row_q8_0/q8_1: multiplier 127/max, stored scale rounded to half.
        let exact = m / 127
        let id: Float = m == 0 ? 0 : 127 / m
        let d = halfToFloat(floatToHalf(exact))
        let q0 = SIMD8<Int32>((v0 * id).rounded(.toNearestOrEven))
        let q1 = SIMD8<Int32>((v1 * id).rounded(.toNearestOrEven))
        let q2 = SIMD8<Int32>((v2 * id).rounded(.toNearestOrEven))
        let q3 = SIMD8<Int32>((v3 * id).rounded(.toNearestOrEven))
        let block = out + b
        block.pointee.d = d
        block.pointee.s = halfToFloat(floatToHalf(exact * Float((q0 &+ q1 &+ q2 &+ q3).wrappedSum())))
        withUnsafeMutableBytes(of: &block.pointee.qs) { qs in
            qs.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q0), toByteOffset: 0, as: SIMD8<Int8>.self)
            qs.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q1), toByteOffset: 8, as: SIMD8<Int8>.self)
            qs.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q2), toByteOffset: 16, as: SIMD8<Int8>.self)
            qs.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: q3), toByteOffset: 24, as: SIMD8<Int8>.self)
        }
    }
}

@inline(__always)
private func abs(_ v: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>(bitPattern: v.bitPattern & 0x7FFF_FFFF) }

extension SIMD8 where Scalar == Float {
    @inline(__always) init(bitPattern: SIMD8<UInt32>) {
        self = unsafeBitCast(bitPattern, to: SIMD8<Float>.self)
    }
    @inline(__always) var bitPattern: SIMD8<UInt32> { unsafeBitCast(self, to: SIMD8<UInt32>.self) }
}
