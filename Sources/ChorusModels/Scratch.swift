import ChorusKernels

/// Every buffer the forward pass writes, allocated once for up to `maxBatch` rows (llama2.c's
/// RunState): the forward allocates nothing.
final class Scratch: @unchecked Sendable {
    let maxBatch: Int
    /// residual stream [maxBatch][d]
    let x: UnsafeMutablePointer<Float>
    /// normalised input of the current sub-block [maxBatch][d]
    let normed: UnsafeMutablePointer<Float>
    /// projections [maxBatch][queryWidth], [maxBatch][kvWidth] x 2
    let q: UnsafeMutablePointer<Float>
    let k: UnsafeMutablePointer<Float>
    let v: UnsafeMutablePointer<Float>
    /// attention output [maxBatch][queryWidth]
    let attention: UnsafeMutablePointer<Float>
    /// sub-block output before the residual add [maxBatch][d]
    let projected: UnsafeMutablePointer<Float>
    /// FFN hidden [maxBatch][ffn] x 2
    let gate: UnsafeMutablePointer<Float>
    let up: UnsafeMutablePointer<Float>
    /// RoPE cos/sin table per row [maxBatch][ropeDimensions]
    let ropeTables: UnsafeMutablePointer<Float>
    /// half-float attention accumulator, one head row per thread, `headAccumulatorStride` apart on
    /// 64-byte boundaries: every visited slot rewrites it, so two threads must not share a cache line
    let headAccumulators: UnsafeMutablePointer<UInt16>
    let headAccumulatorStride: Int
    let quantizedModel: QuantizedActivations
    let quantizedAttention: QuantizedActivations
    let quantizedHidden: QuantizedActivations
    /// Tensor-parallel exchange (nil for a whole model): a slice's rows padded to the widest
    /// slice's width [maxBatch][widest], every slice's padded rows [slices][maxBatch][widest], a
    /// product's own output rows [maxBatch][d], the gathered attention or hidden rows
    /// [maxBatch][max(whole query width, whole feed-forward width)].
    let sliceSend: UnsafeMutablePointer<Float>?
    let sliceReceive: UnsafeMutablePointer<Float>?
    let sliceOutput: UnsafeMutablePointer<Float>?
    let gathered: UnsafeMutablePointer<Float>?
    /// logits [rows][vocab], grown on demand
    var logits: UnsafeMutablePointer<Float>
    var logitCapacityRows: Int
    private var allocations: [UnsafeMutablePointer<Float>] = []

    /// Formats each activation buffer is quantised into: those its consumers' weight types need.
    let hiddenFormats: ActivationFormats

    init(config c: ModelConfig, weights: ModelWeights, maxBatch: Int, contextCapacity: Int, threads: Int,
         slices: SliceWidths? = nil) {
        self.maxBatch = maxBatch
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        x = buffer(maxBatch * c.embeddingLength)
        normed = buffer(maxBatch * c.embeddingLength)
        q = buffer(maxBatch * c.queryWidth)
        k = buffer(maxBatch * c.kvWidth)
        v = buffer(maxBatch * c.kvWidth)
        attention = buffer(maxBatch * c.queryWidth)
        projected = buffer(maxBatch * c.embeddingLength)
        gate = buffer(maxBatch * c.feedForwardLength)
        up = buffer(maxBatch * c.feedForwardLength)
        ropeTables = buffer(maxBatch * c.ropeDimensions)
        headAccumulatorStride = (c.headDimension + 31) / 32 * 32
        headAccumulators = UnsafeMutableRawPointer.allocate(byteCount: 2 * threads * headAccumulatorStride, alignment: 64)
            .bindMemory(to: UInt16.self, capacity: threads * headAccumulatorStride)
        headAccumulators.initialize(repeating: 0, count: threads * headAccumulatorStride)
        let layers = weights.layers
        let modelFormats = MatMul.activationFormats(
            for: [weights.output.type] + layers.flatMap { [$0.query.type, $0.key.type, $0.value.type, $0.gate.type, $0.up.type] })
        hiddenFormats = MatMul.activationFormats(for: layers.map(\.down.type))
        quantizedModel = QuantizedActivations(maxRows: maxBatch, columns: c.embeddingLength, formats: modelFormats)
        // Whole widths: a tensor slice gathers every slice's attention and hidden rows before quantising.
        let attentionWidth = slices?.attention.reduce(0, +) ?? c.queryWidth
        let hiddenWidth = slices?.hidden.reduce(0, +) ?? c.feedForwardLength
        quantizedAttention = QuantizedActivations(maxRows: maxBatch, columns: attentionWidth,
                                                  formats: MatMul.activationFormats(for: layers.map(\.output.type)))
        quantizedHidden = QuantizedActivations(maxRows: maxBatch, columns: hiddenWidth, formats: hiddenFormats)
        if let slices {
            sliceSend = buffer(maxBatch * slices.widest)
            sliceReceive = buffer(slices.count * maxBatch * slices.widest)
            sliceOutput = buffer(maxBatch * c.embeddingLength)
            gathered = buffer(maxBatch * max(attentionWidth, hiddenWidth))
        } else {
            (sliceSend, sliceReceive, sliceOutput, gathered) = (nil, nil, nil, nil)
        }
        logitCapacityRows = 1
        logits = buffer(c.vocabularySize)
        allocations = [x, normed, q, k, v, attention, projected, gate, up, ropeTables]
            + [sliceSend, sliceReceive, sliceOutput, gathered].compactMap { $0 }
    }

    func ensureLogitRows(_ rows: Int, vocabulary: Int) {
        guard rows > logitCapacityRows else { return }
        logits.deallocate()
        logits = .allocate(capacity: rows * vocabulary)
        logitCapacityRows = rows
    }

    deinit {
        for p in allocations { p.deallocate() }
        UnsafeMutableRawPointer(headAccumulators).deallocate()
        logits.deallocate()
    }
}
