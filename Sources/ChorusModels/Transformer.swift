import ChorusGGUF
import ChorusKernels
import ChorusRuntime

/// Logits of the rows a batch asked for; valid until the next forward pass on the same model.
public struct Logits: @unchecked Sendable {
    public let base: UnsafePointer<Float>
    public let rows: Int
    public let vocabularySize: Int

    public func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: base + i * vocabularySize, count: vocabularySize)
    }
}

/// A decoder-only transformer ready to run: config, weights in place in the mapped file, scratch
/// buffers and the thread pool its operators are split across.
///
/// One forward pass serves prefill, decoding, perplexity and token-tree verification; every operator
/// works on output-row ranges so a row's result is the same whatever else is in the batch (for
/// repackable Q4_K weights only with `llamaCppBatchRounding` off).
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights
    public let file: GGUFFile
    public let pool: ThreadPool
    /// Most rows one forward pass takes; longer causal runs are cut into chunks of this size.
    public let maxBatch: Int
    let scratch: Scratch
    let contextCapacity: Int
    let ropes: [RoPE]
    /// Per-operator timing, when profiling is on.
    public var profiler: OperatorProfiler?
    /// How each operator class is split across the pool's compute units (even by default). Any
    /// valid plan gives the same bits; it only changes who computes which rows.
    public var plan: PartitionPlan {
        didSet { precondition((try? plan.validate(forUnits: pool.threadCount)) != nil, "plan does not fit the pool") }
    }
    /// Called with intermediate tensors (named as llama.cpp's graph names them, e.g. "kqv_out-3")
    /// and their rows, for comparing against another implementation. Nil in normal runs.
    public var tap: ((String, [Float]) -> Void)?
    /// Whether K-quant products follow llama.cpp's batch-dependent rounding (off by default): on AVX2
    /// llama.cpp repacks Q4_K matrices with a multiple of 8 rows and computes the first n - n % 4
    /// rows of an n-row batch with its 4-row gemm, the rest (and every single-token step) with its
    /// gemv, which round differently (`MatMul.multiply(gemmRows:)`). Then a prompt row's bits
    /// depend on the batch it came in, as in llama.cpp. False gives every row the single-row order,
    /// so a row has the same bits alone or in any batch (prefill = token-by-token decoding, tree rows
    /// = their chains); decoding steps are the same either way. Other weight types are unaffected.
    /// Off is Chorus's contract (batch invariance, which speculative decoding and batched serving
    /// rely on); on reproduces llama.cpp's logits bit for bit (`--llama-cpp-rounding`).
    public var llamaCppBatchRounding = false

    /// The vocabulary ids whose logits the output head computes (the others are -infinity); nil:
    /// all. A draft model restricted to its frequent tokens reads a fraction of its output head,
    /// which is a quarter of a small model's weights (`ModelDrafter`); verification keeps the
    /// output exact whatever the drafter proposes.
    public var headVocabulary: [Range<Int>]? {
        didSet {
            if let ids = headVocabulary {
                precondition(ids.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= config.vocabularySize }, "head ids out of range")
            }
        }
    }
    /// The part of the model this instance runs (pipeline stage, tensor-parallel slice).
    public let part: ModelPart
    /// Gathers equal-sized float buffers from every tensor-parallel slice: `receive` gets each
    /// slice's `send` in slice order. Must be set whenever `part` has more than one slice.
    public var allGather: ((_ send: UnsafeBufferPointer<Float>, _ receive: UnsafeMutableBufferPointer<Float>) -> Void)?
    /// What each tensor-parallel slice computes of the split outputs (nil for whole blocks).
    let sliceWidths: SliceWidths?
    /// How token-tree batches combine the committed prefix with each row's ancestors (`TreeAttention.swift`).
    public var treeAttentionMode = TreeAttentionMode.sequential
    let treeScratch = TreeAttentionScratch()

    /// - Parameters:
    ///   - contextCapacity: the largest KV cache this model will be asked to use (sizes score scratch).
    ///   - maxBatch: rows per forward pass (prefill chunk / widest verification).
    ///   - part: the blocks and slice to run (`ModelPart.whole` unless the model is split across processes).
    public init(file: GGUFFile, pool: ThreadPool, contextCapacity: Int, maxBatch: Int = 64, part: ModelPart = .whole) throws {
        let full = try ModelConfig(metadata: file.metadata)
        let config = try part.slicedConfig(full)
        self.config = config
        self.part = part
        self.file = file
        self.pool = pool
        self.maxBatch = max(1, maxBatch)
        self.contextCapacity = contextCapacity
        plan = .uniform(units: pool.threadCount)
        guard part.layers.map({ !$0.isEmpty && $0.upperBound <= full.layerCount }) ?? true else {
            throw ModelError.invalidConfig("layers \(part.layers!) are not within the model's \(full.layerCount)")
        }
        let whole = try ModelWeights(file: file, config: full, layerRange: part.layers)
        weights = part.tensorSlices > 1 ? whole.sliced(try part.slice(of: full), config: full) : whole
        sliceWidths = part.tensorSlices > 1 ? try SliceWidths(part: part, config: full) : nil
        scratch = Scratch(config: config, weights: weights, maxBatch: self.maxBatch, contextCapacity: contextCapacity,
                          threads: pool.threadCount, slices: sliceWidths)
        ropes = (0..<config.layerCount).map { layer in
            let local = config.slidingWindow[layer] != nil
            let base = local ? (config.localRopeBase ?? config.ropeBase) : config.ropeBase
            return RoPE(layout: config.ropeLayout, dimensions: config.ropeDimensions, base: base,
                        frequencyScale: local ? 1 : config.ropeFrequencyScale)
        }
    }

    /// A KV cache shaped for this model.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(layers: weights.layers.count, firstLayer: weights.firstLayer, kvHeads: config.kvHeadCount,
                headDimension: config.headDimension, capacity: min(capacity, contextCapacity))
    }

    /// Run the batch: write its keys/values into `cache` slots `firstSlot...`, return the logits of
    /// `batch.logitRows`. Causal batches longer than `maxBatch` run in chunks. `cache.count` becomes
    /// `firstSlot + batch.count` for causal batches (tree batches leave committing to the caller).
    public func forward(_ batch: Batch, cache: KVCache) throws -> Logits {
        let v = config.vocabularySize
        try check(batch, rows: 0..<batch.count, cache: cache, tokens: true)
        scratch.ensureLogitRows(max(1, batch.logitRows.count), vocabulary: v)
        if batch.count <= maxBatch {
            runChunk([PassSegment(batch: batch, rows: 0..<batch.count, cache: cache)], logitRows: batch.logitRows, logitOffset: 0)
        } else {
            guard batch.visibility == .causal else {
                throw ModelError.invalidConfig("a token tree of \(batch.count) nodes exceeds the batch limit \(maxBatch)")
            }
            var start = 0
            var written = 0
            while start < batch.count {
                let end = min(batch.count, start + maxBatch)
                let rows = batch.logitRows.filter { $0 >= start && $0 < end }
                runChunk([PassSegment(batch: batch, rows: start..<end, cache: cache)], logitRows: rows.map { $0 - start },
                         logitOffset: written)
                written += rows.count
                start = end
            }
        }
        if batch.visibility == .causal { cache.count = batch.firstSlot + batch.count }
        return Logits(base: scratch.logits, rows: batch.logitRows.count, vocabularySize: v)
    }

    /// Throws a one-line error unless rows `rows` of `batch` can run into `cache`: positions for every
    /// token, slots within the cache, token ids within the vocabulary (when `tokens`: the pass
    /// embeds them), wanted logit rows within the batch, tree parents preceding their children.
    func check(_ batch: Batch, rows: Range<Int>, cache: KVCache, tokens: Bool) throws {
        let v = config.vocabularySize
        guard batch.positions.count == batch.count else { throw ModelError.invalidConfig("batch positions do not match tokens") }
        guard batch.firstSlot >= 0, batch.firstSlot + rows.upperBound <= cache.capacity else {
            throw ModelError.contextOverflow(needed: batch.firstSlot + rows.upperBound, capacity: cache.capacity)
        }
        if tokens, let token = batch.tokens[rows].first(where: { $0 < 0 || $0 >= v }) {
            throw ModelError.invalidConfig("token id \(token) outside the vocabulary of \(v)")
        }
        if let row = batch.logitRows.first(where: { !batch.tokens.indices.contains($0) }) {
            throw ModelError.invalidConfig("logit row \(row) outside a batch of \(batch.count)")
        }
        if case .tree(let parents) = batch.visibility {
            guard parents.count == batch.count else { throw ModelError.invalidConfig("tree parents do not match tokens") }
            if let i = parents.indices.first(where: { parents[$0] < -1 || parents[$0] >= $0 }) {
                throw ModelError.invalidConfig("tree node \(i) has parent \(parents[i]); parents must precede their children")
            }
        }
    }

    /// One pass of at most `maxBatch` rows: the rows of each segment in turn (one segment for a
    /// sequence's chunk, several for continuous batching), pass row t coming from segment
    /// `origins[t].segment`, batch row `origins[t].row`. `logitRows` are pass rows. Products run once
    /// over all rows; each row's keys, values and attention use its own segment's batch and cache.
    /// The residual stream starts as the token embeddings, or as `input` ([rows][d], the previous
    /// pipeline stage's output) when given; after the blocks it is left in `scratch.x`.
    func runChunk(_ segments: [PassSegment], logitRows: [Int], logitOffset: Int, input: UnsafePointer<Float>? = nil) {
        let c = config
        let s = scratch
        var origins: [(segment: Int, row: Int)] = []
        for (i, segment) in segments.enumerated() { origins += segment.rows.map { (i, $0) } }
        let n = origins.count
        let d = c.embeddingLength
        let qW = c.queryWidth, kvW = c.kvWidth, ffn = c.feedForwardLength

        // x[t] = embedding(token) * scale
        time(.embedding) {
            if let input {
                s.x.update(from: input, count: n * d)
                return
            }
            for t in 0..<n {
                let xt = s.x + t * d
                weights.tokenEmbedding.dequantizeRow(segments[origins[t].segment].batch.tokens[origins[t].row], into: xt)
                if c.embeddingScale != 1 { for i in 0..<d { xt[i] *= c.embeddingScale } }
            }
        }

        // llama.cpp's repacked Q4_K runs the first n - n % 4 rows of a product through its 4-row gemm
        // and the rest through its gemv, which round differently (`MatMul.multiply(gemmRows:)`). In
        // the last layer it keeps only the rows whose logits are wanted (m rows) through the
        // feed-forward; when they are the chunk's last rows, row t is in a 4-row group iff t < n - m % 4.
        let batchRounding = llamaCppBatchRounding
        let gemmRows = batchRounding ? n - n % 4 : 0
        let localLogitRows = logitRows
        let suffix = batchRounding && !localLogitRows.isEmpty && localLogitRows == Array(n - localLogitRows.count..<n)
        let lastGemmRows = suffix ? n - localLogitRows.count % 4 : gemmRows
        // Its tiled K-quant matmul takes products of 8 or more rows (Q6_K here). Batch-invariant
        // runs give Q6_K that order at every width (one integer per super-block, which the wide
        // kernels need).
        let tiled = !batchRounding || n >= 8
        let lastTiled = !batchRounding || (suffix ? localLogitRows.count >= 8 : tiled)

        // Each tree segment's rows of ancestors, once per pass (nil for causal segments).
        let trees = segments.map { segment -> TreeRows? in
            if case .tree(let parents) = segment.batch.visibility { return TreeRows(parents: parents) }
            return nil
        }
        let hasTrees = trees.contains { $0 != nil }

        // normed = rmsnorm(x) * attn_norm of layer 0; later layers get it fused with the residual add
        time(.norm) { addResidualAndNormalize(rows: n, residual: false, postNorm: nil, weight: weights.layers[0].attentionNorm) }
        for (i, layer) in weights.layers.enumerated() {
            let l = weights.firstLayer + i  // index in the whole model

            // q, k, v = W x: one region over the rows of all three matrices
            time(.matmul(layer.query.type)) {
                multiplyStacked([(layer.query, s.q), (layer.key, s.k), (layer.value, s.v)], s.quantizedModel, xRows: n,
                                gemmRows: gemmRows, tiled: tiled)
            }

            // biases, q/k norms, RoPE; keys and values into their cache slots
            time(.rope) {
                pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
                    for t in range {
                        let (segment, row) = (segments[origins[t].segment], origins[t].row)
                        prepareHeads(row: t, layer: layer, layerIndex: l, position: segment.batch.positions[row],
                                     slot: segment.batch.firstSlot + row, cache: segment.cache)
                    }
                }
            }

            if let tap {
                tap("Qcur-\(l)", Array(UnsafeBufferPointer(start: s.q, count: n * qW)))
                tap("Kcur-\(l)", Array(UnsafeBufferPointer(start: s.k, count: n * kvW)))
                tap("Vcur-\(l)", Array(UnsafeBufferPointer(start: s.v, count: n * kvW)))
            }
            // attention per (row, head)
            time(.attention) {
                if hasTrees {
                    attendTree(rows: n, origins: origins, segments: segments, trees: trees, layer: l)
                    return
                }
                pool.run(n * c.headCount, under: plan, op: .attention) { range, thread in
                    for unit in range {
                        let t = unit / c.headCount, h = unit % c.headCount
                        let segment = segments[origins[t].segment]
                        attend(row: t, head: h, batch: segment.batch, batchRow: origins[t].row, layer: l, cache: segment.cache,
                               thread: thread)
                    }
                }
            }
            // A tensor slice has its heads' attention; every slice's heads make the whole rows.
            var attention = s.attention, attentionWidth = qW
            if let widths = sliceWidths, let whole = s.gathered {
                gatherSlices(s.attention, widths: widths.attention, into: whole, rows: n)
                (attention, attentionWidth) = (whole, widths.attention.reduce(0, +))
            }
            tap?("kqv_out-\(l)", Array(UnsafeBufferPointer(start: attention, count: n * attentionWidth)))
            time(.quantize) {
                pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
                    for t in range { s.quantizedAttention.quantize(row: t, from: attention + t * attentionWidth) }
                }
            }

            // projected = Wo attention; x += (post-norm) projected
            project(layer.output, s.quantizedAttention, rows: n, gemmRows: gemmRows, tiled: tiled)
            let ffnGemmRows = l + 1 == config.layerCount ? lastGemmRows : gemmRows
            let ffnTiled = l + 1 == config.layerCount ? lastTiled : tiled
            time(.norm) { addResidualAndNormalize(rows: n, residual: true, postNorm: layer.postAttentionNorm, weight: layer.ffnNorm) }

            // gate, up = W x; hidden = act(gate) * up, quantised block by block in the same region
            time(.matmul(layer.gate.type)) {
                // Ranges end on quantisation-block boundaries so each thread quantises what it computed.
                let grain = s.hiddenFormats.contains(.k256) ? 256 : 32
                pool.run(ffn, under: plan, op: .linear, grain: grain) { range, _ in
                    MatMul.multiply(layer.gate, s.quantizedModel, xRows: n, into: s.gate, yStride: ffn, rows: range,
                                    gemmRows: ffnGemmRows, tiled: ffnTiled)
                    MatMul.multiply(layer.up, s.quantizedModel, xRows: n, into: s.up, yStride: ffn, rows: range,
                                    gemmRows: ffnGemmRows, tiled: ffnTiled)
                    for t in 0..<n {
                        let g = s.gate + t * ffn + range.lowerBound, u = s.up + t * ffn + range.lowerBound
                        switch c.activation {
                        case .silu: VectorOps.swiglu(g, u, range.count)
                        case .geluTanh: VectorOps.geglu(g, u, range.count)
                        }
                        if sliceWidths == nil { s.quantizedHidden.quantize(row: t, columns: range, from: g) }
                    }
                }
            }
            // A tensor slice has its feed-forward rows; every slice's rows make the whole hidden rows.
            if let widths = sliceWidths, let whole = s.gathered {
                gatherSlices(s.gate, widths: widths.hidden, into: whole, rows: n)
                let width = widths.hidden.reduce(0, +)
                time(.quantize) {
                    pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
                        for t in range { s.quantizedHidden.quantize(row: t, from: whole + t * width) }
                    }
                }
            }
            project(layer.down, s.quantizedHidden, rows: n, gemmRows: ffnGemmRows, tiled: ffnTiled)
            let next = i + 1 < weights.layers.count ? weights.layers[i + 1].attentionNorm : nil
            time(.norm) { addResidualAndNormalize(rows: n, residual: true, postNorm: layer.postFFNNorm, weight: next) }
            tap?("l_out-\(l)", Array(UnsafeBufferPointer(start: s.x, count: n * d)))
        }

        // logits for the requested rows: rmsnorm, then the output head
        guard !logitRows.isEmpty else { return }
        time(.norm) {
            for (i, t) in logitRows.enumerated() {
                VectorOps.rmsNorm(s.x + t * d, weight: weights.outputNorm, eps: c.normEpsilon, count: d, into: s.normed + i * d)
                s.quantizedModel.quantize(row: i, from: s.normed + i * d)
            }
        }
        let vocab = c.vocabularySize
        if let tap {
            tap("l_out-last", Array(UnsafeBufferPointer(start: s.x + logitRows[logitRows.count - 1] * d, count: d)))
            tap("result_norm", Array(UnsafeBufferPointer(start: s.normed + (logitRows.count - 1) * d, count: d)))
        }
        time(.matmul(weights.output.type)) {
            let ranges = headVocabulary ?? [0..<vocab]
            if headVocabulary != nil {
                UnsafeMutableBufferPointer(start: s.logits + logitOffset * vocab, count: logitRows.count * vocab).update(repeating: -.infinity)
            }
            pool.run(ranges.reduce(0) { $0 + $1.count }, under: plan, op: .linear, grain: 64) { range, _ in
                Self.forEachPiece(of: range, stacking: ranges) { _, rows in
                    MatMul.multiply(weights.output, s.quantizedModel, xRows: logitRows.count,
                                    into: s.logits + logitOffset * vocab, yStride: vocab, rows: rows,
                                    gemmRows: batchRounding ? logitRows.count - logitRows.count % 4 : 0,
                                    tiled: !batchRounding || logitRows.count >= 8)
                }
            }
        }
        tap?("result_output", Array(UnsafeBufferPointer(start: s.logits + (logitOffset + logitRows.count - 1) * vocab, count: vocab)))
    }

    // MARK: - operator bodies

    /// x += (post-norm) projected, then normed = rmsnorm(x) * weight quantised for the next
    /// products: one region over rows, so the residual stream is touched once per sub-block.
    func addResidualAndNormalize(rows n: Int, residual: Bool, postNorm: [Float]?, weight: [Float]?) {
        let d = config.embeddingLength, eps = config.normEpsilon, s = scratch
        let q = s.quantizedModel
        pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
            for t in range {
                let x = s.x + t * d
                if residual {
                    let p = s.projected + t * d
                    if let postNorm {
                        postNorm.withUnsafeBufferPointer { VectorOps.rmsNorm(p, weight: $0.baseAddress!, eps: eps, count: d, into: p) }
                    }
                    VectorOps.add(p, into: x, d)
                }
                if let weight {
                    weight.withUnsafeBufferPointer { VectorOps.rmsNorm(x, weight: $0.baseAddress!, eps: eps, count: d, into: s.normed + t * d) }
                    q.quantize(row: t, from: s.normed + t * d)
                }
            }
        }
    }

    /// projected = W x, the product that returns to the residual stream (attention output, FFN down).
    /// A tensor slice computes its rows of it and gathers the other slices' rows.
    private func project(_ w: WeightMatrix, _ x: QuantizedActivations, rows n: Int, gemmRows: Int, tiled: Bool) {
        let s = scratch
        time(.matmul(w.type)) { multiplyStacked([(w, s.sliceOutput ?? s.projected)], x, xRows: n, gemmRows: gemmRows, tiled: tiled) }
        if let widths = sliceWidths, let own = s.sliceOutput { gatherSlices(own, widths: widths.model, into: s.projected, rows: n) }
    }

    /// One region computing several products of the same activations; the region's rows are the
    /// stacked output rows of all matrices, so the work splits evenly whatever their sizes.
    func multiplyStacked(_ parts: [(WeightMatrix, UnsafeMutablePointer<Float>)], _ x: QuantizedActivations, xRows: Int,
                                 gemmRows: Int, tiled: Bool) {
        let total = parts.reduce(0) { $0 + $1.0.rows }
        pool.run(total, under: plan, op: .linear, grain: 16) { range, _ in
            Self.forEachPiece(of: range, stacking: parts.map { 0..<$0.0.rows }) { i, rows in
                let (w, y) = parts[i]
                MatMul.multiply(w, x, xRows: xRows, into: y, yStride: w.rows, rows: rows, gemmRows: gemmRows, tiled: tiled)
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

    /// Bias, per-head norm and RoPE for row t's heads; its key and value heads go to `slot`.
    func prepareHeads(row t: Int, layer: LayerWeights, layerIndex l: Int, position: Int, slot: Int, cache: KVCache) {
        let c = config, s = scratch, hd = c.headDimension
        let q = s.q + t * c.queryWidth, k = s.k + t * c.kvWidth, v = s.v + t * c.kvWidth
        if let b = layer.queryBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: q, c.queryWidth) } }
        if let b = layer.keyBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: k, c.kvWidth) } }
        if let b = layer.valueBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: v, c.kvWidth) } }
        let rope = ropes[l]
        let table = s.ropeTables + t * c.ropeDimensions
        rope.angles(position: position, into: table)
        for h in 0..<c.headCount {
            let head = q + h * hd
            if let norm = layer.queryNorm {
                norm.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, eps: c.normEpsilon, count: hd, into: head) }
            }
            rope.rotate(head, table: table)
            if c.queryScale != 1 { for i in 0..<hd { head[i] *= c.queryScale } }
        }
        for h in 0..<c.kvHeadCount {
            let head = k + h * hd
            if let norm = layer.keyNorm {
                norm.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, eps: c.normEpsilon, count: hd, into: head) }
            }
            rope.rotate(head, table: table)
            let offset = cache.offset(layer: l, head: h, slot: slot)
            VectorOps.roundToHalf(head, into: cache.keys + offset, hd)
            VectorOps.roundToHalf(v + h * hd, into: cache.values + offset, hd)
        }
    }

    /// softmax(q k^T * scale) v for one row and head of a causal batch over the slots the row may
    /// see: the committed prefix (within the sliding window, if any) and the batch rows up to it.
    ///
    /// Computed as llama.cpp's CPU flash attention does, so results agree with it closely: the
    /// query rounded to half, one pass over the visible slots in slot order with an online softmax,
    /// the weighted values accumulated in half precision, divided by the normaliser at the end.
    func attend(row t: Int, head h: Int, batch: Batch, batchRow: Int, layer l: Int, cache: KVCache,
                        thread: Int) {
        let c = config, s = scratch, hd = c.headDimension
        let kvHead = h / c.gqaGroup
        let q = s.q + t * c.queryWidth + h * hd
        for i in 0..<hd { q[i] = halfToFloat(floatToHalf(q[i])) }
        let out = s.attention + t * c.queryWidth + h * hd
        let accumulator = s.headAccumulators + thread * s.headAccumulatorStride
        accumulator.initialize(repeating: 0, count: hd)
        let position = batch.positions[batchRow]
        let keys = cache.keys + cache.offset(layer: l, head: kvHead, slot: 0)
        let values = cache.values + cache.offset(layer: l, head: kvHead, slot: 0)
        let window = c.slidingWindow[l]

        // Contiguous slots [lo, hi): the committed prefix (within the sliding window, if any) and the
        // batch rows up to this one. (Tree batches go through `attendTree`.)
        let lo = window.map { max(0, position - $0 + 1) } ?? 0
        let hi = batch.firstSlot + batchRow + 1
        var state = SoftmaxState()
        for slot in min(lo, hi)..<hi {
            state.visit(slot, query: q, keys: keys, values: values, headDimension: hd, scale: c.attentionScale,
                        accumulator: accumulator)
        }
        let inverse = 1 / state.normaliser
        for i in 0..<hd { out[i] = halfToFloat(accumulator[i]) * inverse }
    }

    @inline(__always)
    func time(_ op: OperatorKind, _ body: () -> Void) {
        if let profiler {
            let start = profiler.now()
            body()
            profiler.record(op, since: start)
        } else {
            body()
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
