import ChorusKernels
import ChorusRuntime

/// One sequence's share of a multi-sequence forward pass: its rows and the KV cache they extend.
public struct Segment: @unchecked Sendable {
    public var batch: Batch
    public var cache: KVCache

    public init(_ batch: Batch, cache: KVCache) {
        self.batch = batch
        self.cache = cache
    }
}

extension Transformer {
    /// Run the rows of several sequences in one pass (continuous batching): the products run once over
    /// all rows, so every weight is read once per step however many sequences are active, while each
    /// row's keys and values go to its own sequence's cache and its attention sees only that cache.
    ///
    /// Rows keep the single-row reduction order of every kernel, so a sequence's logits have the same
    /// bits whatever else shares the pass (batch invariance). Returns the logits of each segment's
    /// `logitRows`, segment after segment. Causal segments commit their rows (`cache.count`).
    /// The rows of all segments together must fit in `maxBatch`; every segment needs its own cache.
    public func forward(segments: [Segment]) throws -> Logits {
        let v = config.vocabularySize
        guard !llamaCppBatchRounding else {
            throw ModelError.invalidConfig("several sequences in one pass need batch-invariant rounding (llamaCppBatchRounding off)")
        }
        var seen = Set<ObjectIdentifier>()
        var rowCount = 0
        var logitCount = 0
        for segment in segments {
            let batch = segment.batch
            guard seen.insert(ObjectIdentifier(segment.cache)).inserted else {
                throw ModelError.invalidConfig("two segments of one pass share a KV cache")
            }
            guard batch.positions.count == batch.count else { throw ModelError.invalidConfig("batch positions do not match tokens") }
            guard batch.firstSlot + batch.count <= segment.cache.capacity else {
                throw ModelError.contextOverflow(needed: batch.firstSlot + batch.count, capacity: segment.cache.capacity)
            }
            for token in batch.tokens where token < 0 || token >= v {
                throw ModelError.invalidConfig("token id \(token) outside the vocabulary of \(v)")
            }
            rowCount += batch.count
            logitCount += batch.logitRows.count
        }
        guard rowCount <= maxBatch else {
            throw ModelError.invalidConfig("\(rowCount) rows in one multi-sequence pass exceed the batch limit \(maxBatch)")
        }
        scratch.ensureLogitRows(max(1, logitCount), vocabulary: v)
        if rowCount > 0 { runSegments(segments, rows: rowCount) }
        for segment in segments where segment.batch.visibility == .causal {
            segment.cache.count = segment.batch.firstSlot + segment.batch.count
        }
        return Logits(base: scratch.logits, rows: logitCount, vocabularySize: v)
    }

    /// Where pass row t comes from: its segment and its row within that segment's batch.
    private struct RowOrigin {
        var segment: Int
        var row: Int
    }

    /// The forward pass of `runChunk` with per-row batch and cache; always the single-row kernel order.
    private func runSegments(_ segments: [Segment], rows n: Int) {
        let c = config
        let s = scratch
        let d = c.embeddingLength
        let ffn = c.feedForwardLength
        var origins: [RowOrigin] = []
        origins.reserveCapacity(n)
        var logitRows: [Int] = []  // pass rows whose logits are wanted, in output order
        for (i, segment) in segments.enumerated() {
            let base = origins.count
            for r in 0..<segment.batch.count { origins.append(RowOrigin(segment: i, row: r)) }
            logitRows.append(contentsOf: segment.batch.logitRows.map { base + $0 })
        }

        time(.embedding) {
            for t in 0..<n {
                let origin = origins[t]
                let xt = s.x + t * d
                weights.tokenEmbedding.dequantizeRow(segments[origin.segment].batch.tokens[origin.row], into: xt)
                if c.embeddingScale != 1 { for i in 0..<d { xt[i] *= c.embeddingScale } }
            }
        }

        time(.norm) { addResidualAndNormalize(rows: n, residual: false, postNorm: nil, weight: weights.layers[0].attentionNorm) }
        for (l, layer) in weights.layers.enumerated() {
            time(.matmul(layer.query.type)) {
                multiplyStacked([(layer.query, s.q), (layer.key, s.k), (layer.value, s.v)], s.quantizedModel, xRows: n,
                                gemmRows: 0, tiled: false)
            }
            time(.rope) {
                pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
                    for t in range {
                        let origin = origins[t]
                        let segment = segments[origin.segment]
                        prepareHeads(row: t, layer: layer, layerIndex: l, position: segment.batch.positions[origin.row],
                                     slot: segment.batch.firstSlot + origin.row, cache: segment.cache)
                    }
                }
            }
            time(.attention) {
                pool.run(n * c.headCount, under: plan, op: .attention) { range, thread in
                    for unit in range {
                        let t = unit / c.headCount, h = unit % c.headCount
                        let origin = origins[t]
                        let segment = segments[origin.segment]
                        attend(row: t, head: h, batch: segment.batch, batchRow: origin.row, layer: l, cache: segment.cache,
                               thread: thread)
                    }
                }
            }
            time(.quantize) {
                pool.run(n, under: plan, op: .rowwise, grain: 4) { range, _ in
                    for t in range { s.quantizedAttention.quantize(row: t, from: s.attention + t * c.queryWidth) }
                }
            }
            time(.matmul(layer.output.type)) {
                multiplyStacked([(layer.output, s.projected)], s.quantizedAttention, xRows: n, gemmRows: 0, tiled: false)
            }
            time(.norm) { addResidualAndNormalize(rows: n, residual: true, postNorm: layer.postAttentionNorm, weight: layer.ffnNorm) }
            time(.matmul(layer.gate.type)) {
                let grain = s.hiddenFormats.contains(.k256) ? 256 : 32
                pool.run(ffn, under: plan, op: .linear, grain: grain) { range, _ in
                    MatMul.multiply(layer.gate, s.quantizedModel, xRows: n, into: s.gate, yStride: ffn, rows: range)
                    MatMul.multiply(layer.up, s.quantizedModel, xRows: n, into: s.up, yStride: ffn, rows: range)
                    for t in 0..<n {
                        let g = s.gate + t * ffn + range.lowerBound, u = s.up + t * ffn + range.lowerBound
                        switch c.activation {
                        case .silu: VectorOps.swiglu(g, u, range.count)
                        case .geluTanh: VectorOps.geglu(g, u, range.count)
                        }
                        s.quantizedHidden.quantize(row: t, columns: range, from: g)
                    }
                }
            }
            time(.matmul(layer.down.type)) {
                multiplyStacked([(layer.down, s.projected)], s.quantizedHidden, xRows: n, gemmRows: 0, tiled: false)
            }
            let next = l + 1 < weights.layers.count ? weights.layers[l + 1].attentionNorm : nil
            time(.norm) { addResidualAndNormalize(rows: n, residual: true, postNorm: layer.postFFNNorm, weight: next) }
        }

        guard !logitRows.isEmpty else { return }
        time(.norm) {
            for (i, t) in logitRows.enumerated() {
                VectorOps.rmsNorm(s.x + t * d, weight: weights.outputNorm, eps: c.normEpsilon, count: d, into: s.normed + i * d)
                s.quantizedModel.quantize(row: i, from: s.normed + i * d)
            }
        }
        let vocab = c.vocabularySize
        let logitCount = logitRows.count
        time(.matmul(weights.output.type)) {
            pool.run(vocab, under: plan, op: .linear, grain: 64) { range, _ in
                MatMul.multiply(weights.output, s.quantizedModel, xRows: logitCount, into: s.logits, yStride: vocab, rows: range)
            }
        }
    }
}
