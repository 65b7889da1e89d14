import CQuantBlocks

/// Activation rows quantised to int8, the input of every quantised matrix product. Quantising once
/// per row lets each weight block be consumed with integer multiply-adds.
///
/// A row is kept in each of the `formats` asked for at init (see `ActivationFormats`): blocks of 32
/// (`ChorusQ8Block`) and/or super-blocks of 256 (`ChorusQ8KBlock`); `MatMul.multiply` reads the one
/// its weight type needs. Storage is owned and reused: allocated once for `maxRows` rows.
public final class QuantizedActivations: @unchecked Sendable {
    public let maxRows: Int
    /// Values per row.
    public let columns: Int
    /// The representations kept for every row.
    public let formats: ActivationFormats
    /// `ChorusQ8Block`s per row (columns / 32).
    public let blocksPerRow: Int
    /// Storage of the 32-value blocks, `blocksPerRow` per row (one placeholder if `.blocks32` is absent).
    public let blocks: UnsafeMutablePointer<ChorusQ8Block>
    /// `ChorusQ8KBlock`s per row (columns / 256 with `.k256`, else 0).
    public let superBlocksPerRow: Int
    /// Storage of the 256-value super-blocks, `superBlocksPerRow` per row.
    public let superBlocks: UnsafeMutablePointer<ChorusQ8KBlock>

    /// - Parameters:
    ///   - columns: a multiple of 32, and of 256 if `formats` contains `.k256`.
    ///   - formats: the representations to keep; `MatMul.activationFormats(for:)` says which the
    ///     weights reading these activations need.
    public init(maxRows: Int, columns: Int, formats: ActivationFormats = .blocks32) {
        precondition(columns % 32 == 0, "activation width must be a multiple of 32")
        precondition(!formats.contains(.k256) || columns % 256 == 0, "K-quant activations need a width that is a multiple of 256")
        self.maxRows = maxRows
        self.columns = columns
        self.formats = formats
        blocksPerRow = columns / 32
        superBlocksPerRow = formats.contains(.k256) ? columns / 256 : 0
        blocks = .allocate(capacity: formats.contains(.blocks32) ? max(1, maxRows * blocksPerRow) : 1)
        superBlocks = .allocate(capacity: max(1, maxRows * superBlocksPerRow))
    }

    deinit {
        blocks.deallocate()
        superBlocks.deallocate()
    }

    /// Row `r` as 32-value blocks.
    public func row(_ r: Int) -> UnsafeMutablePointer<ChorusQ8Block> {
        precondition(formats.contains(.blocks32), "these activations are not kept in blocks of 32")
        return blocks + r * blocksPerRow
    }

    /// Row `r` as 256-value super-blocks.
    public func superRow(_ r: Int) -> UnsafeMutablePointer<ChorusQ8KBlock> {
        precondition(formats.contains(.k256), "these activations are not kept in super-blocks of 256")
        return superBlocks + r * superBlocksPerRow
    }

    /// Quantise `x[0..<columns]` into row `r`, in every kept format (as ggml's quantize_row_q8_0/
    /// q8_1 and quantize_row_q8_K; see `quantizeRowQ8` and `quantizeRowQ8K`).
    @inline(__always)
    public func quantize(row r: Int, from x: UnsafePointer<Float>) {
        quantize(row: r, columns: 0..<columns, from: x)
    }

    /// Quantise the values of columns `range` of row `r`, every kept format; `x` points at the value
    /// of column `range.lowerBound`. Lets a parallel region quantise the slice of a row it just
    /// produced (e.g. FFN hidden activations). The range must start and end on a block boundary:
    /// multiples of 32, and of 256 when `.k256` is kept (the row's end counts as a boundary).
    @inline(__always)
    public func quantize(row r: Int, columns range: Range<Int>, from x: UnsafePointer<Float>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= columns)
        if formats.contains(.blocks32) {
            precondition(range.lowerBound % 32 == 0 && range.count % 32 == 0, "column range \(range) is not aligned to 32")
            quantizeRowQ8(x, into: blocks + r * blocksPerRow + range.lowerBound / 32, blocks: range.count / 32)
        }
        if formats.contains(.k256) {
            precondition(range.lowerBound % 256 == 0 && range.count % 256 == 0, "column range \(range) is not aligned to 256")
            quantizeRowQ8K(x, into: superBlocks + r * superBlocksPerRow + range.lowerBound / 256, blocks: range.count / 256)
        }
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
        let m = lanewiseMax(lanewiseMax(magnitude(v0), magnitude(v1)), lanewiseMax(magnitude(v2), magnitude(v3))).max()
        // As ggml's quantize_row_q8_0/q8_1: multiplier 127/max, stored scale rounded to half.
        let exact = m / 127
        let id: Float = m == 0 ? 0 : 127 / m
        let d = halfToFloat(floatToHalf(exact))
        let q0 = roundedToInt32(v0 * id)
        let q1 = roundedToInt32(v1 * id)
        let q2 = roundedToInt32(v2 * id)
        let q3 = roundedToInt32(v3 * id)
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
