import ChorusKernels

/// Multi-head attention with grouped key/value heads: Q, K, V projections (optional biases, Qwen2),
/// optional per-head RMSNorm on Q and K (Gemma 3), RoPE, an optional query scale, the keys and
/// values written to the KV cache, causal or token-tree attention over the cache (optionally within
/// a sliding window), the output projection and an optional output norm (Gemma 3). A tensor slice
/// holds a group of key/value heads with their query heads and a range of output rows.
final class Attention: ResidualBlock {
    /// What differs between architectures' attention blocks.
    struct Options: Sendable {
        /// Biases on the Q, K and V projections.
        var biases = false
        /// Per-head RMSNorm on Q and K before RoPE.
        var queryKeyNorm = false
        /// A norm on the block's output before the residual add.
        var outputNorm = false
        /// Multiplier on the query after RoPE (Gemma scales Q instead of the scores).
        var queryScale: Float = 1
        /// Softmax scale of the scores; nil: 1/sqrt(head dimension).
        var scoreScale: Float?
        /// Attention sees only the last `window` positions (nil: all).
        var window: Int?
    }

    let layer: Int
    let norms: ResidualNorms
    let query: Linear
    let key: Linear
    let value: Linear
    let output: Linear
    let queryBias: [Float]?
    let keyBias: [Float]?
    let valueBias: [Float]?
    let queryKeyNorm: (query: RMSNorm, key: RMSNorm)?
    let rope: RoPE
    let heads: Int
    let kvHeads: Int
    let headDimension: Int
    let queryScale: Float
    let scoreScale: Float
    let window: Int?

    /// Loads layer `layer`'s `attn_q/k/v/output`, `attn_norm` and what `options` ask for.
    init(_ weights: WeightLoader, layer: Int, rope: RoPE, options: Options = Options()) throws {
        let c = weights.whole, p = "blk.\(layer).", hd = c.headDimension
        self.layer = layer
        self.rope = rope
        heads = weights.config.headCount
        kvHeads = weights.config.kvHeadCount
        headDimension = hd
        queryScale = options.queryScale
        scoreScale = options.scoreScale ?? 1 / Float(hd).squareRoot()
        window = options.window
        norms = ResidualNorms(input: try weights.norm(p + "attn_norm.weight"),
                              output: options.outputNorm ? try weights.norm(p + "post_attention_norm.weight") : nil)
        let d = c.embeddingLength
        query = try weights.linear(p + "attn_q.weight", rows: c.queryWidth, columns: d, split: .queryHeads)
        key = try weights.linear(p + "attn_k.weight", rows: c.kvWidth, columns: d, split: .kvHeads)
        value = try weights.linear(p + "attn_v.weight", rows: c.kvWidth, columns: d, split: .kvHeads)
        output = try weights.linear(p + "attn_output.weight", rows: d, columns: c.queryWidth, split: .modelRows)
        queryBias = options.biases ? try weights.vector(p + "attn_q.bias", count: c.queryWidth, split: .queryHeads) : nil
        keyBias = options.biases ? try weights.vector(p + "attn_k.bias", count: c.kvWidth, split: .kvHeads) : nil
        valueBias = options.biases ? try weights.vector(p + "attn_v.bias", count: c.kvWidth, split: .kvHeads) : nil
        queryKeyNorm = options.queryKeyNorm
            ? (try weights.norm(p + "attn_q_norm.weight", count: hd), try weights.norm(p + "attn_k_norm.weight", count: hd)) : nil
    }

    var linears: [Linear] { [query, key, value, output] }
    var queryWidth: Int { heads * headDimension }
    var kvWidth: Int { kvHeads * headDimension }

    func forward(phase: Int, _ pass: Pass) {
        let w = pass.workspace, s = w.attention, n = pass.rows
        // q, k, v = W x: one region over the rows of all three matrices
        pass.time(.matmul(query.type)) { pass.multiply([(query, s.q), (key, s.k), (value, s.v)], w.input) }
        // biases, q/k norms, RoPE; keys and values into their cache slots
        pass.time(.rope) {
            pass.run(n, op: .rowwise, grain: 4) { range, _ in
                for t in range { prepareHeads(row: t, pass) }
            }
        }
        pass.tap("Qcur-\(layer)", s.q, count: n * queryWidth)
        pass.tap("Kcur-\(layer)", s.k, count: n * kvWidth)
        pass.tap("Vcur-\(layer)", s.v, count: n * kvWidth)
        pass.time(.attention) { pass.hasTrees ? attendTrees(pass) : attendCausal(pass) }
        // A tensor slice has its heads' attention; every slice's heads make the whole rows.
        var attention = s.out, width = queryWidth
        if let slices = w.slices {
            pass.gather(s.out, widths: slices.widths.attention, into: slices.gathered)
            (attention, width) = (slices.gathered, slices.widths.attention.reduce(0, +))
        }
        pass.tap("kqv_out-\(layer)", attention, count: n * width)
        pass.time(.quantize) {
            pass.run(n, op: .rowwise, grain: 4) { range, _ in
                for t in range { s.quantized.quantize(row: t, from: attention + t * width) }
            }
        }
        pass.project(output, s.quantized)
    }

    /// Bias, per-head norm and RoPE for row t's heads; its key and value heads go to its cache slot.
    @inline(__always)
    func prepareHeads(row t: Int, _ pass: Pass) {
        let s = pass.workspace.attention, hd = headDimension
        let (segment, row) = (pass.segments[pass.origins[t].segment], pass.origins[t].row)
        let q = s.q + t * queryWidth, k = s.k + t * kvWidth, v = s.v + t * kvWidth
        if let b = queryBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: q, queryWidth) } }
        if let b = keyBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: k, kvWidth) } }
        if let b = valueBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: v, kvWidth) } }
        let table = s.ropeTables + t * rope.dimensions
        rope.angles(position: segment.batch.positions[row], into: table)
        for h in 0..<heads {
            let head = q + h * hd
            queryKeyNorm?.query.apply(heads: 1, head)
            rope.rotate(head, table: table)
            if queryScale != 1 { for i in 0..<hd { head[i] *= queryScale } }
        }
        let cache = segment.cache, slot = segment.batch.firstSlot + row
        for h in 0..<kvHeads {
            let head = k + h * hd
            queryKeyNorm?.key.apply(heads: 1, head)
            rope.rotate(head, table: table)
            let offset = cache.offset(layer: layer, head: h, slot: slot)
            VectorOps.roundToHalf(head, into: cache.keys + offset, hd)
            VectorOps.roundToHalf(v + h * hd, into: cache.values + offset, hd)
        }
    }
}

/// Attention buffers of a workspace, for the widest attention block: projections [rows][query
/// width], [rows][kv width] x 2, the attention output [rows][query width] and it quantised for
/// the output projection (whole rows on a tensor slice), RoPE cos/sin tables [rows][dimensions],
/// per-thread half-float head accumulators and the token-tree buffers.
final class AttentionScratch: @unchecked Sendable {
    let q: UnsafeMutablePointer<Float>
    let k: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let ropeTables: UnsafeMutablePointer<Float>
    let quantized: QuantizedActivations
    /// One head row per thread, `headAccumulatorStride` apart on 64-byte boundaries: every visited
    /// slot rewrites it, so two threads must not share a cache line.
    private(set) var headAccumulators: UnsafeMutablePointer<UInt16>
    let headAccumulatorStride: Int
    private var threads = 0
    let tree = TreeAttentionScratch()

    init(_ blocks: [Attention], rows: Int, wholeWidth: Int?) {
        let queryWidth = blocks.map(\.queryWidth).max() ?? 0, kvWidth = blocks.map(\.kvWidth).max() ?? 0
        q = Workspace.zeroed(rows * queryWidth)
        k = Workspace.zeroed(rows * kvWidth)
        v = Workspace.zeroed(rows * kvWidth)
        out = Workspace.zeroed(rows * queryWidth)
        ropeTables = Workspace.zeroed(rows * (blocks.map(\.rope.dimensions).max() ?? 0))
        quantized = QuantizedActivations(maxRows: rows, columns: wholeWidth ?? queryWidth,
                                         formats: MatMul.activationFormats(for: blocks.map(\.output.type)))
        headAccumulatorStride = ((blocks.map(\.headDimension).max() ?? 0) + 31) / 32 * 32
        headAccumulators = Self.accumulators(threads: 1, stride: headAccumulatorStride)
        threads = 1
    }

    private static func accumulators(threads: Int, stride: Int) -> UnsafeMutablePointer<UInt16> {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(64, 2 * threads * stride), alignment: 64)
            .bindMemory(to: UInt16.self, capacity: threads * stride)
        p.initialize(repeating: 0, count: threads * stride)
        return p
    }

    /// Room for `threads` threads' head accumulators.
    func ensure(threads count: Int) {
        guard count > threads else { return }
        UnsafeMutableRawPointer(headAccumulators).deallocate()
        headAccumulators = Self.accumulators(threads: count, stride: headAccumulatorStride)
        threads = count
    }

    deinit {
        for p in [q, k, v, out, ropeTables] { p.deallocate() }
        UnsafeMutableRawPointer(headAccumulators).deallocate()
    }
}
