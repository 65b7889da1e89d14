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
        pass.time(.matmul(query.type)) { pass.multiply([(query, s.q), (key, s.k), (value, s.v)], w.input, source: w.normed) }
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
        pass.project(output, s.quantized, source: attention)
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

// MARK: - Training: the f32 forward keeping what the backward needs, B and W

/// What attention's training forward keeps for its backward: the normalised input rows, Q and K as
/// the scores read them (after biases, per-head norms, RoPE and the query scale) with their values
/// before the norms when there are norms, V, each (row, head)'s log-sum-exp of its scores, the
/// attention output (the output projection's input), and each adapted product's A x.
final class AttentionActivations: BlockActivations {
    let input: Floats, q: Floats, k: Floats, v: Floats, lse: Floats, attention: Floats
    let beforeNorms: (q: Floats, k: Floats)?
    /// A x of query, key, value, output (nil where a product has no adapter).
    let downs: [Floats?]

    init(input: Floats, q: Floats, k: Floats, v: Floats, lse: Floats, attention: Floats, beforeNorms: (q: Floats, k: Floats)?, downs: [Floats?]) {
        (self.input, self.q, self.k, self.v, self.lse, self.attention) = (input, q, k, v, lse, attention)
        self.beforeNorms = beforeNorms
        self.downs = downs
    }

    var byteCount: Int {
        [input, q, k, v, lse, attention].reduce(0) { $0 + $1.byteCount } + (beforeNorms.map { $0.q.byteCount + $0.k.byteCount } ?? 0)
            + downs.reduce(0) { $0 + ($1?.byteCount ?? 0) }
    }
}

extension Attention: TrainableBlock {
    func trainingForward(_ input: Floats, into output: UnsafeMutablePointer<Float>, _ step: TrainingStep) -> any BlockActivations {
        let n = step.rows
        let q = Floats(n * queryWidth), k = Floats(n * kvWidth), v = Floats(n * kvWidth)
        var downs = [query.trainingForward(input.pointer, into: q.pointer, step), key.trainingForward(input.pointer, into: k.pointer, step),
                     value.trainingForward(input.pointer, into: v.pointer, step)]
        let beforeNorms = queryKeyNorm.map { _ in (q: Floats(n * queryWidth), k: Floats(n * kvWidth)) }
        step.forEachRow { t in prepareTrainingHeads(row: t, q: q, k: k, v: v, beforeNorms: beforeNorms, step) }
        let lse = Floats(n * heads), attention = Floats(n * queryWidth)
        for sequence in step.batch.sequences { attendTraining(sequence, q: q, k: k, v: v, into: attention, lse: lse, step) }
        downs.append(self.output.trainingForward(attention.pointer, into: output, step))
        return AttentionActivations(input: input, q: q, k: k, v: v, lse: lse, attention: attention, beforeNorms: beforeNorms, downs: downs)
    }

    /// Row t's heads as `prepareHeads` makes them, in f32 and without a cache (the values before
    /// the per-head norms kept for their backward).
    private func prepareTrainingHeads(row t: Int, q: Floats, k: Floats, v: Floats, beforeNorms: (q: Floats, k: Floats)?, _ step: TrainingStep) {
        let hd = headDimension, qt = q.pointer + t * queryWidth, kt = k.pointer + t * kvWidth
        if let b = queryBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: qt, queryWidth) } }
        if let b = keyBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: kt, kvWidth) } }
        if let b = valueBias { b.withUnsafeBufferPointer { VectorOps.add($0.baseAddress!, into: v.pointer + t * kvWidth, kvWidth) } }
        if let saved = beforeNorms {
            (saved.q.pointer + t * queryWidth).update(from: qt, count: queryWidth)
            (saved.k.pointer + t * kvWidth).update(from: kt, count: kvWidth)
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rope.dimensions) { table in
            rope.angles(position: step.batch.positions[t], into: table.baseAddress!)
            for h in 0..<heads {
                let head = qt + h * hd
                queryKeyNorm?.query.apply(heads: 1, head)
                rope.rotate(head, table: table.baseAddress!)
                if queryScale != 1 { for i in 0..<hd { head[i] *= queryScale } }
            }
            for h in 0..<kvHeads {
                queryKeyNorm?.key.apply(heads: 1, kt + h * hd)
                rope.rotate(kt + h * hd, table: table.baseAddress!)
            }
        }
    }

    /// The rows `sequence` see (causal, within the window), for row i of it: lo...i.
    @inline(__always)
    private func firstVisible(_ i: Int) -> Int { window.map { max(0, i - $0 + 1) } ?? 0 }

    /// softmax(scale q k^T) v over one sequence's rows, every (head, row) of it, keeping each one's log-sum-exp.
    private func attendTraining(_ sequence: Range<Int>, q: Floats, k: Floats, v: Floats, into out: Floats, lse: Floats, _ step: TrainingStep) {
        let b = sequence.lowerBound, length = sequence.count, hd = headDimension, group = heads / kvHeads
        step.run(heads * length, op: .attention) { range, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: length) { p in
                for unit in range {
                    let h = unit / length, i = unit % length, g = h / group, lo = firstVisible(i)
                    let qi = q.pointer + (b + i) * queryWidth + h * hd
                    var m = -Float.infinity
                    for j in lo...i {
                        p[j] = FloatProducts.dot(qi, k.pointer + (b + j) * kvWidth + g * hd, hd) * scoreScale
                        m = max(m, p[j])
                    }
                    var sum: Float = 0
                    for j in lo...i {
                        p[j] = expf(p[j] - m)
                        sum += p[j]
                    }
                    lse.pointer[(b + i) * heads + h] = m + logf(sum)
                    let o = out.pointer + (b + i) * queryWidth + h * hd
                    for j in lo...i { VectorOps.axpy(p[j] / sum, v.pointer + (b + j) * kvWidth + g * hd, into: o, hd) }
                }
            }
        }
    }

    func backwardInput(_ kept: any BlockActivations, outputGradient: Floats, into inputGradient: UnsafeMutablePointer<Float>,
                       _ step: TrainingStep) -> [LoRAGradientInputs] {
        let a = kept as! AttentionActivations, n = step.rows
        let dAttention = Floats(n * queryWidth)
        var inputs = [output.backwardInput(outputGradient, into: dAttention.pointer, accumulate: false, input: a.attention, down: a.downs[3], step)]
        let dq = Floats(n * queryWidth), dk = Floats(n * kvWidth), dv = Floats(n * kvWidth)
        for sequence in step.batch.sequences { attentionBackward(sequence, a, dAttention, dq: dq, dk: dk, dv: dv, step) }
        step.forEachRow { t in restoreTrainingHeads(row: t, dq: dq, dk: dk, a, step) }
        inputs.append(query.backwardInput(dq, into: inputGradient, accumulate: false, input: a.input, down: a.downs[0], step))
        inputs.append(key.backwardInput(dk, into: inputGradient, accumulate: true, input: a.input, down: a.downs[1], step))
        inputs.append(value.backwardInput(dv, into: inputGradient, accumulate: true, input: a.input, down: a.downs[2], step))
        return inputs.compactMap { $0 }
    }

    /// Gradients of one sequence's Q, K, V from that of its attention output: per (head, row i) the
    /// probabilities recomputed from the kept log-sum-exp, dS = P (dP - sum P dP) with dP = dO V^T,
    /// dQ = scale dS K; then per (key/value head, row j) dK = scale dS^T Q and dV = P^T dO over the
    /// query heads sharing it (fixed orders, so the thread count never changes a bit).
    private func attentionBackward(_ sequence: Range<Int>, _ a: AttentionActivations, _ dOut: Floats, dq: Floats, dk: Floats, dv: Floats,
                                   _ step: TrainingStep) {
        let b = sequence.lowerBound, length = sequence.count, hd = headDimension, group = heads / kvHeads
        let probabilities = Floats(heads * length * length), scores = Floats(heads * length * length)
        step.run(heads * length, op: .attention) { range, _ in
            for unit in range {
                let h = unit / length, i = unit % length, g = h / group, lo = firstVisible(i)
                let qi = a.q.pointer + (b + i) * queryWidth + h * hd, doi = dOut.pointer + (b + i) * queryWidth + h * hd
                let p = probabilities.pointer + unit * length, ds = scores.pointer + unit * length
                let lse = a.lse.pointer[(b + i) * heads + h]
                var total: Float = 0
                for j in lo...i {
                    p[j] = expf(FloatProducts.dot(qi, a.k.pointer + (b + j) * kvWidth + g * hd, hd) * scoreScale - lse)
                    ds[j] = FloatProducts.dot(doi, a.v.pointer + (b + j) * kvWidth + g * hd, hd)
                    total += p[j] * ds[j]
                }
                let dqi = dq.pointer + (b + i) * queryWidth + h * hd
                for j in lo...i {
                    ds[j] = p[j] * (ds[j] - total)
                    VectorOps.axpy(ds[j] * scoreScale, a.k.pointer + (b + j) * kvWidth + g * hd, into: dqi, hd)
                }
            }
        }
        step.run(kvHeads * length, op: .attention) { range, _ in
            for unit in range {
                let g = unit / length, j = unit % length
                let dkj = dk.pointer + (b + j) * kvWidth + g * hd, dvj = dv.pointer + (b + j) * kvWidth + g * hd
                let last = window.map { min(length - 1, j + $0 - 1) } ?? length - 1
                for h in g * group..<(g + 1) * group {
                    for i in j...last {
                        let at = (h * length + i) * length + j
                        VectorOps.axpy(scores.pointer[at] * scoreScale, a.q.pointer + (b + i) * queryWidth + h * hd, into: dkj, hd)
                        VectorOps.axpy(probabilities.pointer[at], dOut.pointer + (b + i) * queryWidth + h * hd, into: dvj, hd)
                    }
                }
            }
        }
    }

    /// The transpose of `prepareTrainingHeads` on row t's gradients of Q and K, in place: query
    /// scale, RoPE and per-head norms undone in reverse order (biases pass gradients through).
    private func restoreTrainingHeads(row t: Int, dq: Floats, dk: Floats, _ a: AttentionActivations, _ step: TrainingStep) {
        let hd = headDimension, qt = dq.pointer + t * queryWidth, kt = dk.pointer + t * kvWidth
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rope.dimensions) { table in
            rope.angles(position: step.batch.positions[t], into: table.baseAddress!)
            for h in 0..<heads {
                let head = qt + h * hd
                if queryScale != 1 { for i in 0..<hd { head[i] *= queryScale } }
                rope.rotateBack(head, table: table.baseAddress!)
                if let norm = queryKeyNorm?.query, let saved = a.beforeNorms {
                    norm.backward(saved.q.pointer + t * queryWidth + h * hd, head, into: head, accumulate: false)
                }
            }
            for h in 0..<kvHeads {
                let head = kt + h * hd
                rope.rotateBack(head, table: table.baseAddress!)
                if let norm = queryKeyNorm?.key, let saved = a.beforeNorms {
                    norm.backward(saved.k.pointer + t * kvWidth + h * hd, head, into: head, accumulate: false)
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
