import ChorusKernels

/// What a training forward of a model part kept for its input-gradient backward: per residual
/// block the residual stream it read, its own activations and (with an output norm) its output
/// before that norm; on the last part the head's loss rows and logit gradients.
public final class TrainingActivations: @unchecked Sendable {
    let batch: TrainingBatch
    fileprivate let blocks: [(residual: Floats, kept: any BlockActivations, output: Floats?)]
    fileprivate let head: HeadActivations?
    /// The micro-batch's summed token loss (the last part only).
    public let lossSum: Double?

    fileprivate init(batch: TrainingBatch, blocks: [(residual: Floats, kept: any BlockActivations, output: Floats?)], head: HeadActivations?,
                     lossSum: Double?) {
        self.batch = batch
        self.blocks = blocks
        self.head = head
        self.lossSum = lossSum
    }

    /// Bytes held.
    public var byteCount: Int {
        blocks.reduce(0) { $0 + $1.residual.byteCount + $1.kept.byteCount + ($1.output?.byteCount ?? 0) } + (head?.byteCount ?? 0)
    }
}

/// What the input-gradient backward kept for the weight-gradient backward: per residual block, each
/// adapted product's input, A x, B^T dy and dy.
public final class WeightGradientInputs: @unchecked Sendable {
    let batch: TrainingBatch
    fileprivate let blocks: [(block: Int, inputs: [LoRAGradientInputs])]

    fileprivate init(batch: TrainingBatch, blocks: [(block: Int, inputs: [LoRAGradientInputs])]) {
        self.batch = batch
        self.blocks = blocks
    }

    /// Bytes held (buffers shared by several products counted once).
    public var byteCount: Int {
        var seen = Set<ObjectIdentifier>(), total = 0
        for input in blocks.flatMap(\.inputs) {
            for buffer in [input.input, input.down, input.up, input.outputGradient] where seen.insert(ObjectIdentifier(buffer)).inserted {
                total += buffer.byteCount
            }
        }
        return total
    }
}

/// Training a model part (LoRA fine-tuning): a forward in f32 through the dequantised frozen
/// weights that keeps what the backward needs, the input-gradient backward (B) and the
/// weight-gradient backward (W) as separate calls, so a pipeline schedule can defer W. Every block
/// runs its own training forward, B and W (beside its forward, in its file); this runner handles
/// the embedding, the norms and residual stream around the blocks, and the head.
///
/// Each row's results depend only on its sequence, and every reduction runs in a fixed order on
/// one thread, so the results do not depend on the thread count or on how the model is cut into parts.
extension Transformer {
    /// Forward of this part on `batch`: the first part embeds its tokens (`input` nil), a later part
    /// reads the previous part's hidden states ([rows][hiddenWidth]). A part before the last writes
    /// its hidden states to `output`; the last computes the summed cross-entropy of the loss rows.
    public func trainingForward(_ batch: TrainingBatch, input: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>?) throws -> TrainingActivations {
        let step = try trainingStep(batch)
        let n = batch.rows, d = hiddenWidth
        let x = Floats(n * d)
        if let input {
            x.pointer.update(from: input, count: n * d)
        } else {
            guard let embedding = blocks.embedding else { throw ModelError.invalidConfig("a later pipeline stage needs hidden states") }
            step.forEachRow { t in embedding.embed(token: batch.tokens[t], into: x.pointer + t * d) }
        }
        var kept: [(residual: Floats, kept: any BlockActivations, output: Floats?)] = []
        for block in blocks.residual {
            let residual = Floats(n * d), normed = Floats(n * d), out = Floats(n * d)
            residual.pointer.update(from: x.pointer, count: n * d)
            step.forEachRow { t in block.norms.input.apply(x.pointer + t * d, into: normed.pointer + t * d) }
            let activations = (block as! any TrainableBlock).trainingForward(normed, into: out.pointer, step)
            let outputNorm = block.norms.output
            step.forEachRow { t in
                let o = out.pointer + t * d
                guard let outputNorm else { return VectorOps.add(o, into: x.pointer + t * d, d) }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { y in
                    outputNorm.apply(o, into: y.baseAddress!)
                    VectorOps.add(y.baseAddress!, into: x.pointer + t * d, d)
                }
            }
            kept.append((residual, activations, outputNorm == nil ? nil : out))
        }
        guard let head = blocks.head else {
            guard let output else { throw ModelError.invalidConfig("a part before the last needs an output buffer") }
            output.update(from: x.pointer, count: n * d)
            return TrainingActivations(batch: batch, blocks: kept, head: nil, lossSum: nil)
        }
        let (headKept, loss) = head.trainingForward(x, step)
        return TrainingActivations(batch: batch, blocks: kept, head: headKept, lossSum: loss)
    }

    /// B of this part: from the gradient of its output hidden states (`outputGradient`; nil on the
    /// last part, which starts from its loss with d(step loss)/d(token loss) = `lossScale`), the
    /// gradient of its input hidden states into `inputGradient` (skipped when nil: the first part).
    /// Returns what W needs.
    public func trainingBackwardInput(_ kept: TrainingActivations, outputGradient: UnsafePointer<Float>?, lossScale: Float,
                                      inputGradient: UnsafeMutablePointer<Float>?) throws -> WeightGradientInputs {
        let step = try trainingStep(kept.batch)
        let n = step.rows, d = hiddenWidth
        let dx = Floats(n * d)
        if let head = kept.head {
            blocks.head!.backwardInput(head, lossScale: lossScale, into: dx.pointer, step)
        } else {
            guard let outputGradient else { throw ModelError.invalidConfig("a part before the last needs the gradient of its output") }
            dx.pointer.update(from: outputGradient, count: n * d)
        }
        var inputs: [(block: Int, inputs: [LoRAGradientInputs])] = []
        for (i, block) in blocks.residual.enumerated().reversed() {
            let (residual, activations, output) = kept.blocks[i]
            let dy = Floats(n * d), dNormed = Floats(n * d)
            if let outputNorm = block.norms.output, let output {
                step.forEachRow { t in outputNorm.backward(output.pointer + t * d, dx.pointer + t * d, into: dy.pointer + t * d, accumulate: false) }
            } else {
                dy.pointer.update(from: dx.pointer, count: n * d)
            }
            let w = (block as! any TrainableBlock).backwardInput(activations, outputGradient: dy, into: dNormed.pointer, step)
            step.forEachRow { t in
                block.norms.input.backward(residual.pointer + t * d, dNormed.pointer + t * d, into: dx.pointer + t * d, accumulate: true)
            }
            inputs.append((i, w))
        }
        inputGradient?.update(from: dx.pointer, count: n * d)
        return WeightGradientInputs(batch: kept.batch, blocks: inputs)
    }

    /// W of this part: the gradients of its LoRA factors, added into their `Parameter.gradient`.
    public func trainingBackwardWeights(_ inputs: WeightGradientInputs) throws {
        let step = try trainingStep(inputs.batch)
        for (i, w) in inputs.blocks { (blocks.residual[i] as! any TrainableBlock).backwardWeights(w, step) }
    }

    /// The LoRA factors of this part's products, in block order (query, key, value, output, gate, up, down).
    public var loraParameters: [Parameter] {
        blocks.residual.flatMap { $0.linears.compactMap(\.lora).flatMap { [$0.a, $0.b] } }
    }

    /// Checks that this part can train on `batch` (one-line errors) and makes its step.
    func trainingStep(_ batch: TrainingBatch) throws -> TrainingStep {
        guard part.tensorSlices == 1 else { throw ModelError.invalidConfig("training runs on whole layers (no tensor-parallel slices)") }
        if let block = blocks.residual.first(where: { !($0 is any TrainableBlock) }) {
            throw ModelError.invalidConfig("layer \(block.layer)'s \(type(of: block)) block has no backward yet: \(config.architecture.rawValue) cannot be fine-tuned")
        }
        guard batch.rows > 0 else { throw ModelError.invalidConfig("a training micro-batch has no rows") }
        if let token = batch.tokens.first(where: { $0 < 0 || $0 >= config.vocabularySize }) ?? batch.targets.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
            throw ModelError.invalidConfig("token id \(token) outside the vocabulary of \(config.vocabularySize)")
        }
        guard batch.longest <= contextCapacity else { throw ModelError.contextOverflow(needed: batch.longest, capacity: contextCapacity) }
        return TrainingStep(batch: batch, context: context)
    }
}
