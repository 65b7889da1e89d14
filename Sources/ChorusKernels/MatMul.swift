import CChorusKernels
import ChorusGGUF

/// Quantised matrix products: `y[j][r] = sum_c W[r][c] * x[j][c]` for output rows `rows` of W and
/// activation rows `0..<x.count`.
///
/// Every kernel takes the output rows it owns, so a thread pool or a partition plan splits one
/// product across workers and compute units without touching the kernel. An output element is
/// computed in the same order whatever the tile, the batch size or the split (see `LaneAccumulator`).
public enum MatMul {
    /// Which implementation runs the int8 products.
    public enum Path: Int, Sendable, CaseIterable {
        case swift = 0, avx2 = 1, avxVNNI = 2
    }

    /// The path in use (the best the CPU offers unless forced).
    public static var path: Path { Path(rawValue: Int(chorus_int8_path())) ?? .swift }

    /// Force a path (tests, benchmarks); returns the path in effect (capped at what the CPU has).
    @discardableResult
    public static func setPath(_ path: Path) -> Path {
        Path(rawValue: Int(chorus_set_int8_path(Int32(path.rawValue)))) ?? .swift
    }

    /// Whether `type` has an int8 product (others must be handled by the caller, e.g. F32 norms).
    public static func supports(_ type: GGMLType) -> Bool {
        switch type {
        case .q4_0, .q4_1, .q8_0: return true
        default: return false
        }
    }

    /// Weight rows processed per call into the C tile, so a chunk of W stays in cache while every
    /// activation row streams past it.
    static let rowChunk = 16

    /// y[j * yStride + r] for r in `rows`, j in 0..<xRows.
    ///
    /// - Parameters:
    ///   - w: weights, `w.columns == 32 * x.blocksPerRow`.
    ///   - x: quantised activations, rows 0..<xRows used.
    ///   - y: output base pointer; row j of the output starts at `y + j * yStride`.
    public static func multiply(
        _ w: WeightMatrix, _ x: QuantizedActivations, xRows: Int,
        into y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        let blocks = x.blocksPerRow
        precondition(w.columns == blocks * 32)
        if path != .swift {
            let cFunction: (UnsafeRawPointer?, Int, Int32, UnsafePointer<ChorusQ8Block>?, Int, Int32, Int32, UnsafeMutablePointer<Float>?, Int) -> Void
            switch w.type {
            case .q4_0: cFunction = chorus_gemm_q4_0
            case .q4_1: cFunction = chorus_gemm_q4_1
            case .q8_0: cFunction = chorus_gemm_q8_0
            default: preconditionFailure("no int8 product for \(w.type)")
            }
            var r = rows.lowerBound
            while r < rows.upperBound {
                let n = min(rowChunk, rows.upperBound - r)
                cFunction(w.row(r), w.rowBytes, Int32(n), x.blocks, blocks, Int32(xRows), Int32(blocks), y + r, yStride)
                r += n
            }
            return
        }
        switch w.type {
        case .q4_0: multiplySwift(Q4_0.self, w, x, xRows: xRows, into: y, yStride: yStride, rows: rows)
        case .q4_1: multiplySwift(Q4_1.self, w, x, xRows: xRows, into: y, yStride: yStride, rows: rows)
        case .q8_0: multiplySwift(Q8_0.self, w, x, xRows: xRows, into: y, yStride: yStride, rows: rows)
        default: preconditionFailure("no int8 product for \(w.type)")
        }
    }

    /// The portable path: one lane-exact dot product per output element.
    @inline(__always)
    static func multiplySwift<F: Int8DotFormat>(
        _: F.Type, _ w: WeightMatrix, _ x: QuantizedActivations, xRows: Int,
        into y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        for j in 0..<xRows {
            let xr = UnsafePointer(x.row(j))
            for r in rows {
                y[j * yStride + r] = F.dot(w.row(r), xr, blocks: x.blocksPerRow)
            }
        }
    }
}
