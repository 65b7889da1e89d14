import ChorusGGUF
import ChorusKernels
import ChorusRuntime

/// How matrix products round their rows.
public enum RoundingPolicy: Sendable, Equatable {
    /// Every row in the single-row order of every kernel, so a row has the same bits alone or in any
    /// batch (prefill = token-by-token decoding, tree rows = their chains). Chorus's contract, which
    /// speculative decoding and batched serving rely on.
    case batchInvariant
    /// llama.cpp's batch-dependent K-quant rounding, reproducing its logits bit for bit
    /// (`--llama-cpp-rounding`): on AVX2 llama.cpp repacks Q4_K matrices with a multiple of 8 rows
    /// and computes the first n - n % 4 rows of an n-row batch with its 4-row gemm, the rest (and
    /// every single-token step) with its gemv, which round differently; its tiled matmul takes Q6_K
    /// products of 8 or more rows. A prompt row's bits then depend on the batch it came in.
    /// Decoding steps are the same either way; other weight types are unaffected.
    case llamaCpp

    /// The kernel order of a product over `rows` activation rows, of which llama.cpp's graph
    /// computes only the last `kept` (all by default; in the last layer it keeps only the rows whose
    /// logits are wanted through the feed-forward, `Pass.rounding`): row t goes through the 4-row
    /// gemm iff t < rows - kept % 4, and the product is tiled iff llama.cpp's has 8 rows or more.
    func product(rows n: Int, kept: Int? = nil) -> ProductRounding {
        guard self == .llamaCpp else { return .batchInvariant }
        let m = kept ?? n
        return ProductRounding(gemmRows: n - m % 4, tiled: m >= 8)
    }
}

/// One product's kernel order (`MatMul.multiply(gemmRows:tiled:)`), as the rounding policy decides it.
struct ProductRounding: Sendable, Equatable {
    var gemmRows: Int
    var tiled: Bool

    /// Single-row order for every row; Q6_K with one integer per super-block (which the wide kernels need).
    static let batchInvariant = ProductRounding(gemmRows: 0, tiled: true)
}

/// A quantised weight matrix and the product through it, y = W x over a range of output rows: the
/// one place every linear map of the forward pass goes through (a LoRA adapter, y += s B(A x),
/// joins here). Rows stay in place in the mapped file; a tensor-parallel slice is a row range.
public struct Linear: @unchecked Sendable {
    public let weight: WeightMatrix

    public init(_ weight: WeightMatrix) { self.weight = weight }

    /// Output features.
    public var rows: Int { weight.rows }
    /// Input features.
    public var columns: Int { weight.columns }
    public var type: GGMLType { weight.type }

    /// The map restricted to output rows `range` (a tensor-parallel slice).
    func rows(_ range: Range<Int>) -> Linear {
        Linear(WeightMatrix(name: weight.name, type: weight.type, rows: range.count, columns: weight.columns,
                            data: weight.data + range.lowerBound * weight.rowBytes))
    }

    /// y[t][outputs] = W x[t] for the first `xRows` activation rows (`y` rows `yStride` apart).
    @inline(__always)
    func multiply(_ x: QuantizedActivations, xRows: Int, into y: UnsafeMutablePointer<Float>, yStride: Int,
                  outputs: Range<Int>, rounding: ProductRounding) {
        MatMul.multiply(weight, x, xRows: xRows, into: y, yStride: yStride, rows: outputs, gemmRows: rounding.gemmRows,
                        tiled: rounding.tiled)
    }

    /// One region computing several products of the same activations, each into its own [xRows][rows]
    /// buffer; the region's rows are the stacked output rows of all maps, so the work splits evenly
    /// whatever their sizes.
    static func multiply(_ parts: [(Linear, UnsafeMutablePointer<Float>)], _ x: QuantizedActivations, xRows: Int,
                         rounding: ProductRounding, on pool: ThreadPool, plan: PartitionPlan) {
        let total = parts.reduce(0) { $0 + $1.0.rows }
        pool.run(total, under: plan, op: .linear, grain: 16) { range, _ in
            forEachPiece(of: range, stacking: parts.map { 0..<$0.0.rows }) { i, rows in
                let (w, y) = parts[i]
                w.multiply(x, xRows: xRows, into: y, yStride: w.rows, outputs: rows, rounding: rounding)
            }
        }
    }

    /// `range` of the rows of `pieces` stacked end to end, as the part of each piece it covers (in
    /// that piece's own row numbers): how one parallel region splits several row ranges evenly.
    static func forEachPiece(of range: Range<Int>, stacking pieces: [Range<Int>], _ body: (Int, Range<Int>) -> Void) {
        var offset = 0
        for (i, piece) in pieces.enumerated() {
            let lo = max(range.lowerBound, offset), hi = min(range.upperBound, offset + piece.count)
            if lo < hi { body(i, (piece.lowerBound + lo - offset)..<(piece.lowerBound + hi - offset)) }
            offset += piece.count
        }
    }
}
