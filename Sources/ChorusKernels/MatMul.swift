import CChorusKernels
import ChorusGGUF

/// Quantised matrix products: `y[j][r] = sum_c W[r][c] * x[j][c]` for output rows `rows` of W and
/// activation rows `0..<x.count`.
///
/// Every kernel takes the output rows it owns, so a thread pool or a partition plan splits one
/// product across workers and compute units without touching the kernel. An output element is
/// computed in the same order whatever the tile, the batch size or the split (see `LaneAccumulator`
/// and, for the K-quants, `Int8KDotFormat`).
public enum MatMul {
    /// Which implementation runs the int8 products.
    public enum Path: Int, Sendable, CaseIterable {
        case swift = 0, avx2 = 1, avxVNNI = 2, avx512VNNI = 3
    }

    /// The path in use (the best the CPU offers unless forced).
    public static var path: Path { Path(rawValue: Int(chorus_int8_path())) ?? .swift }

    /// Force a path (tests, benchmarks); returns the path in effect (capped at what the CPU has).
    @discardableResult
    public static func setPath(_ path: Path) -> Path {
        Path(rawValue: Int(chorus_set_int8_path(Int32(path.rawValue)))) ?? .swift
    }

    /// Whether `type` has an int8 product (others must be handled by the caller, e.g. F32 norms).
    public static func supports(_ type: GGMLType) -> Bool { !activationFormat(for: type).isEmpty }

    /// The activation representation weights of `type` read; empty if `type` has no int8 product.
    public static func activationFormat(for type: GGMLType) -> ActivationFormats {
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return .blocks32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return .k256
        default: return []
        }
    }

    /// Every activation representation needed by weights of `types`: what a model passes to
    /// `QuantizedActivations(maxRows:columns:formats:)` for the activations those weights read.
    public static func activationFormats(for types: [GGMLType]) -> ActivationFormats {
        types.reduce(into: []) { $0.formUnion(activationFormat(for: $1)) }
    }

    /// Weight rows processed per call into the C tile, so a chunk of W stays in cache while every
    /// activation row streams past it.
    static let rowChunk = 16

    /// From this many activation rows on AVX-512, the 32-value block types put 16 activation rows in
    /// the lanes of a vector (`chorus_gemm32_lanes`). One thread, 4864 x 896: Q5_0 16 rows 548 us
    /// against 1380 in row groups, 8 rows about 545 against 691.
    static let lanes32MinRows = 8

    /// `chorus_gemm32_lanes`'s code for a 32-value block type; nil for the others.
    static func lanes32Code(_ type: GGMLType) -> Int32? {
        switch type {
        case .q4_0: return 0
        case .q4_1: return 1
        case .q5_0: return 2
        case .q5_1: return 3
        case .q8_0: return 4
        default: return nil
        }
    }

    /// From this many activation rows, Q4_K (gemv order) and Q6_K (tiled order) products put 8 or 16
    /// activation rows in the lanes of a vector (`chorus_gemm_q4_K_lanes`), the whole row range in
    /// one call so the rows are interleaved once. Measured on one thread, 1536 x 1536: on AVX-VNNI the
    /// 8-lane kernel ties the row groups at 8 rows and wins above (Q4_K 16 rows 299 us against 358);
    /// on AVX-512 the 512-bit row groups stay ahead up to 11 rows (at 8 rows Q4_K 136 us against 175,
    /// Q6_K about 120 against 200).
    static var lanesMinRows: Int { path == .avx512VNNI ? 12 : 8 }

    /// y[j * yStride + r] for r in `rows`, j in 0..<xRows.
    ///
    /// - Parameters:
    ///   - w: weights, `w.columns == x.columns`; `supports(w.type)` must hold.
    ///   - x: quantised activations, rows 0..<xRows used; must keep `activationFormat(for: w.type)`.
    ///   - y: output base pointer; row j of the output starts at `y + j * yStride`.
    ///   - gemmRows: for Q4_K matrices whose row count is a multiple of 8 (those llama.cpp repacks
    ///     into block_q4_Kx8 on AVX2), activation rows `0..<gemmRows` follow the order of llama.cpp's
    ///     4-row ggml_gemm_q4_K_8x8_q8_K and the others that of its ggml_gemv_q4_K_8x8_q8_K (what a
    ///     single row gets). llama.cpp puts the first `n - n % 4` rows of an n-row product through
    ///     gemm; 0 (the default) gives every row the single-row order, so the product is batch
    ///     invariant. Other matrices ignore it.
    ///   - tiled: Q6_K in the order of llama.cpp's tiled K-quant matmul, which llama.cpp takes for
    ///     products of 8 or more activation rows (every row of such a product), and the batch-invariant
    ///     default: one exact integer per super-block, which the wide kernels need. `false` gives
    ///     llama.cpp's vec_dot order (its single-row decoding). Other types ignore it.
    public static func multiply(
        _ w: WeightMatrix, _ x: QuantizedActivations, xRows: Int,
        into y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>, gemmRows: Int = 0, tiled: Bool = true
    ) {
        precondition(w.columns == x.columns, "\(w.name): \(w.columns) columns, activations have \(x.columns)")
        if w.type == .q4_K && w.rows % 8 == 0 {
            return q4KRepacked(w, x, xRows, y, yStride, rows, gemmRows)
        }
        if w.type == .q6_K && tiled {
            if xRows >= lanesMinRows,
               chorus_gemm_q6_K_lanes(w.row(rows.lowerBound), w.rowBytes, Int32(rows.count), x.superBlocks, x.superBlocksPerRow,
                                      Int32(xRows), Int32(x.superBlocksPerRow), y + rows.lowerBound, yStride) != 0 {
                return
            }
            return superBlocks(Q6_KTiled.self, chorus_gemm_q6_K_tiled, w, x, xRows, y, yStride, rows)
        }
        switch w.type {
        case .q4_0: blocks32(Q4_0.self, chorus_gemm_q4_0, w, x, xRows, y, yStride, rows)
        case .q4_1: blocks32(Q4_1.self, chorus_gemm_q4_1, w, x, xRows, y, yStride, rows)
        case .q5_0: blocks32(Q5_0.self, chorus_gemm_q5_0, w, x, xRows, y, yStride, rows)
        case .q5_1: blocks32(Q5_1.self, chorus_gemm_q5_1, w, x, xRows, y, yStride, rows)
        case .q8_0: blocks32(Q8_0.self, chorus_gemm_q8_0, w, x, xRows, y, yStride, rows)
        case .q2_K: superBlocks(Q2_K.self, chorus_gemm_q2_K, w, x, xRows, y, yStride, rows)
        case .q3_K: superBlocks(Q3_K.self, chorus_gemm_q3_K, w, x, xRows, y, yStride, rows)
        case .q4_K: superBlocks(Q4_K.self, chorus_gemm_q4_K, w, x, xRows, y, yStride, rows)
        case .q5_K: superBlocks(Q5_K.self, chorus_gemm_q5_K, w, x, xRows, y, yStride, rows)
        case .q6_K: superBlocks(Q6_K.self, chorus_gemm_q6_K, w, x, xRows, y, yStride, rows)
        default: preconditionFailure("no int8 product for \(w.type)")
        }
    }

    typealias Tile32 = @convention(c) (
        UnsafeRawPointer?, Int, Int32, UnsafePointer<ChorusQ8Block>?, Int, Int32, Int32, UnsafeMutablePointer<Float>?, Int) -> Void
    typealias Tile256 = @convention(c) (
        UnsafeRawPointer?, Int, Int32, UnsafePointer<ChorusQ8KBlock>?, Int, Int32, Int32, UnsafeMutablePointer<Float>?, Int) -> Void

    /// Weights in blocks of 32 against `ChorusQ8Block` activations.
    @inline(__always)
    static func blocks32<F: Int8DotFormat>(
        _: F.Type, _ tile: Tile32, _ w: WeightMatrix, _ x: QuantizedActivations, _ xRows: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ rows: Range<Int>
    ) {
        precondition(x.formats.contains(.blocks32), "\(w.name) (\(w.type)) reads activations in blocks of 32; they were not kept")
        let blocks = x.blocksPerRow
        if xRows >= lanes32MinRows, path == .avx512VNNI, let code = lanes32Code(F.type),
           chorus_gemm32_lanes(code, w.row(rows.lowerBound), w.rowBytes, Int32(rows.count), x.blocks, blocks, Int32(xRows),
                               Int32(blocks), y + rows.lowerBound, yStride) != 0 {
            return
        }
        if path != .swift {
            var r = rows.lowerBound
            while r < rows.upperBound {
                let n = min(rowChunk, rows.upperBound - r)
                tile(w.row(r), w.rowBytes, Int32(n), x.blocks, blocks, Int32(xRows), Int32(blocks), y + r, yStride)
                r += n
            }
            return
        }
        for j in 0..<xRows {
            let xr = UnsafePointer(x.blocks + j * blocks)
            for r in rows { y[j * yStride + r] = F.dot(w.row(r), xr, blocks: blocks) }
        }
    }

    /// K-quant weights in super-blocks of 256 against `ChorusQ8KBlock` activations.
    @inline(__always)
    static func superBlocks<F: Int8KDotFormat>(
        _: F.Type, _ tile: Tile256, _ w: WeightMatrix, _ x: QuantizedActivations, _ xRows: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ rows: Range<Int>
    ) {
        precondition(x.formats.contains(.k256), "\(w.name) (\(w.type)) reads activations in super-blocks of 256; they were not kept")
        let blocks = x.superBlocksPerRow
        if path != .swift {
            var r = rows.lowerBound
            while r < rows.upperBound {
                let n = min(rowChunk, rows.upperBound - r)
                tile(w.row(r), w.rowBytes, Int32(n), x.superBlocks, blocks, Int32(xRows), Int32(blocks), y + r, yStride)
                r += n
            }
            return
        }
        for j in 0..<xRows {
            let xr = UnsafePointer(x.superBlocks + j * blocks)
            for r in rows { y[j * yStride + r] = F.dot(w.row(r), xr, blocks: blocks) }
        }
    }

    /// Q4_K in llama.cpp's repacked order (see `Q4_K.dotRepacked`). Each output element's order
    /// depends only on its activation row's side of `gemmRows`, not on which weight rows a call
    /// owns, so ranges split anywhere (llama.cpp's own groups of 8 rows never change the bits).
    static func q4KRepacked(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ xRows: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ rows: Range<Int>, _ gemmRows: Int
    ) {
        precondition(x.formats.contains(.k256), "\(w.name) (\(w.type)) reads activations in super-blocks of 256; they were not kept")
        let blocks = x.superBlocksPerRow
        let per64Rows = max(0, min(gemmRows, xRows))
        if per64Rows == 0 && xRows >= lanesMinRows,
           chorus_gemm_q4_K_lanes(w.row(rows.lowerBound), w.rowBytes, Int32(rows.count), x.superBlocks, blocks,
                                  Int32(xRows), Int32(blocks), y + rows.lowerBound, yStride) != 0 {
            return
        }
        if path != .swift {
            var r = rows.lowerBound
            while r < rows.upperBound {
                let n = min(rowChunk, rows.upperBound - r)
                chorus_gemm_q4_K_x8(w.row(r), w.rowBytes, Int32(n), x.superBlocks, blocks, Int32(xRows), Int32(blocks),
                                    y + r, yStride, Int32(per64Rows))
                r += n
            }
            return
        }
        for j in 0..<xRows {
            let xr = UnsafePointer(x.superBlocks + j * blocks)
            let per64 = j < per64Rows
            for r in rows { y[j * yStride + r] = Q4_K.dotRepacked(w.row(r), xr, blocks: blocks, per64: per64) }
        }
    }
}
