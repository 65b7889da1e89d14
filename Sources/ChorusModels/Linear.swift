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
/// one place every linear map of the forward pass goes through, with its LoRA adapter when it has
/// one (y += s B(A x), `LoRA`) and its training products (f32 forward, input gradient B, LoRA
/// weight gradient W). Rows stay in place in the mapped file; a tensor-parallel slice is a row range.
public struct Linear: @unchecked Sendable {
    public let weight: WeightMatrix
    /// The adapter beside the frozen weight, if any.
    public let lora: LoRA?

    public init(_ weight: WeightMatrix, lora: LoRA? = nil) {
        self.weight = weight
        self.lora = lora
    }

    /// Output features.
    public var rows: Int { weight.rows }
    /// Input features.
    public var columns: Int { weight.columns }
    public var type: GGMLType { weight.type }

    /// The map restricted to output rows `range` (a tensor-parallel slice).
    func rows(_ range: Range<Int>) -> Linear {
        Linear(WeightMatrix(name: weight.name, type: weight.type, rows: range.count, columns: weight.columns,
                            data: weight.data + range.lowerBound * weight.rowBytes),
               lora: lora?.rows(range))
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

/// A LoRA adapter beside a frozen weight: y += scale * B (A x), with A [rank][inputs] and B
/// [outputs][rank] trainable f32 factors (llama.cpp's `lora_a`, GGUF dimensions [inputs, rank], and
/// `lora_b`, [rank, outputs]) and scale = alpha / rank times the user's scale (llama.cpp's
/// `get_scale`). Inference and training both go through `Linear`'s functions below.
public struct LoRA: @unchecked Sendable {
    public let a: Parameter
    public let b: Parameter
    public let scale: Float
    /// Rows of B the map computes (a tensor-parallel slice's output rows; all otherwise).
    let outputRows: Range<Int>

    public init(a: Parameter, b: Parameter, scale: Float) {
        precondition(a.dimensions.count == 2 && b.dimensions.count == 2 && a.dimensions[1] == b.dimensions[0], "LoRA factors do not pair")
        self.a = a
        self.b = b
        self.scale = scale
        outputRows = 0..<b.dimensions[1]
    }

    private init(_ lora: LoRA, rows: Range<Int>) {
        a = lora.a
        b = lora.b
        scale = lora.scale
        outputRows = lora.outputRows.lowerBound + rows.lowerBound..<lora.outputRows.lowerBound + rows.upperBound
    }

    public var rank: Int { a.dimensions[1] }
    public var inputs: Int { a.dimensions[0] }
    public var outputs: Int { b.dimensions[1] }

    func rows(_ range: Range<Int>) -> LoRA { LoRA(self, rows: range) }
}

extension Linear {
    // MARK: - LoRA, inference and training

    /// u[t] = A x[t] (rank values, rows `rank` apart) for activation rows `tokens` (x rows `xStride` apart).
    func loraDown(_ x: UnsafePointer<Float>, xStride: Int, into u: UnsafeMutablePointer<Float>, tokens: Range<Int>) {
        guard let lora else { return }
        let r = lora.rank, c = columns
        lora.a.values.withUnsafeBufferPointer { a in
            for t in tokens {
                for j in 0..<r { u[t * r + j] = FloatProducts.dot(a.baseAddress! + j * c, x + t * xStride, c) }
            }
        }
    }

    /// y[t][o] += scale * B[o] . u[t] for this map's output rows `outputs` and activation rows 0..<n.
    func loraUp(_ u: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, yStride: Int, outputs: Range<Int>) {
        guard let lora else { return }
        let r = lora.rank, s = lora.scale, base = lora.outputRows.lowerBound
        lora.b.values.withUnsafeBufferPointer { b in
            for t in 0..<n {
                for o in outputs { y[t * yStride + o] += s * FloatProducts.dot(b.baseAddress! + (base + o) * r, u + t * r, r) }
            }
        }
    }

    /// Training forward: y = W x (+ scale B A x) in f32 for every row of the step (x [rows][columns],
    /// y [rows][this map's rows]), through the dequantised weight; returns A x when adapted.
    func trainingForward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ step: TrainingStep) -> Floats? {
        let n = step.rows, out = rows
        let down = lora.map { Floats(n * $0.rank) }
        if let down { step.run(n, op: .rowwise, grain: 4) { range, _ in loraDown(x, xStride: columns, into: down.pointer, tokens: range) } }
        step.run(out, op: .linear, grain: 16) { range, _ in
            FloatProducts.multiply(weight, x, xStride: columns, rows: n, into: y, yStride: out, outputs: range)
            if let down { loraUp(down.pointer, rows: n, into: y, yStride: out, outputs: range) }
        }
        return down
    }

    /// B: dx (+)= W^T dy + scale A^T (B^T dy) for every row (dy [rows][this map's rows], dx
    /// [rows][columns]; `accumulate` adds into dx). Returns what W needs when adapted: `input` (x)
    /// and `down` (A x) as the forward kept them, B^T dy and dy.
    func backwardInput(_ dy: Floats, into dx: UnsafeMutablePointer<Float>, accumulate: Bool, input: Floats, down: Floats?,
                       _ step: TrainingStep) -> LoRAGradientInputs? {
        let n = step.rows, out = rows, c = columns
        let up = lora.map { loraUpGradient(dy, $0, step) }
        Self.withValues(lora?.a) { a in
            step.run(c, op: .linear, grain: FloatProducts.columnGrain(weight)) { range, _ in
                FloatProducts.multiplyTransposed(weight, dy.pointer, dyStride: out, rows: n, into: dx, dxStride: c, columns: range,
                                                 accumulate: accumulate)
                guard let lora, let up, let a else { return }
                for t in 0..<n {
                    for j in 0..<lora.rank {
                        VectorOps.axpy(lora.scale * up.pointer[t * lora.rank + j], a + j * c + range.lowerBound,
                                       into: dx + t * c + range.lowerBound, range.count)
                    }
                }
            }
        }
        guard let up, let down else { return nil }
        return LoRAGradientInputs(linear: self, input: input, down: down, up: up, outputGradient: dy)
    }

    /// v[t] = B^T dy[t] (rank values per row), B's rows in ascending order.
    private func loraUpGradient(_ dy: Floats, _ lora: LoRA, _ step: TrainingStep) -> Floats {
        let n = step.rows, out = rows, r = lora.rank, base = lora.outputRows.lowerBound, v = Floats(n * r)
        Self.withValues(lora.b) { b in
            step.run(n, op: .rowwise, grain: 4) { range, _ in
                for t in range {
                    for o in 0..<out {
                        let g = dy.pointer[t * out + o], row = b! + (base + o) * r
                        for j in 0..<r { v.pointer[t * r + j] = v.pointer[t * r + j].addingProduct(g, row[j]) }
                    }
                }
            }
        }
        return v
    }

    /// `body` with a pointer to a parameter's values (nil without one), valid during the call.
    static func withValues<R>(_ p: Parameter?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let p else { return body(nil) }
        return p.values.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// W: dA += scale (B^T dy)^T x and dB += scale dy^T (A x), summed over the rows in order, into
    /// the factors' gradients.
    func backwardWeights(_ inputs: LoRAGradientInputs, _ step: TrainingStep) {
        guard let lora else { return }
        let n = step.rows, r = lora.rank, c = columns, out = rows, s = lora.scale, base = lora.outputRows.lowerBound
        let x = inputs.input.pointer, up = inputs.up.pointer, down = inputs.down.pointer, dy = inputs.outputGradient.pointer
        lora.a.gradient.withUnsafeMutableBufferPointer { da in
            let da = da.baseAddress!
            step.run(r, op: .rowwise) { range, _ in
                let sum = UnsafeMutablePointer<Float>.allocate(capacity: c)
                defer { sum.deallocate() }
                for j in range {
                    sum.update(repeating: 0, count: c)
                    for t in 0..<n { VectorOps.axpy(up[t * r + j], x + t * c, into: sum, c) }
                    VectorOps.axpy(s, sum, into: da + j * c, c)
                }
            }
        }
        lora.b.gradient.withUnsafeMutableBufferPointer { db in
            let db = db.baseAddress!
            step.run(out, op: .rowwise, grain: 8) { range, _ in
                var sum = [Float](repeating: 0, count: r)
                for o in range {
                    for j in 0..<r { sum[j] = 0 }
                    for t in 0..<n {
                        let g = dy[t * out + o]
                        for j in 0..<r { sum[j] = sum[j].addingProduct(g, down[t * r + j]) }
                    }
                    for j in 0..<r { db[(base + o) * r + j] += s * sum[j] }
                }
            }
        }
    }
}
