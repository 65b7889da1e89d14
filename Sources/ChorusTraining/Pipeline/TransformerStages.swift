import ChorusGGUF
import ChorusModels

/// The transformer as the pipeline executor's stage operations, for LoRA fine-tuning: part k runs
/// layers `partLayers[k]` of the model (a `ModelPart`), the first part also embedding the tokens,
/// the last also computing the loss; a rank loads only the parts it holds. A micro-batch is a
/// `TrainingBatch` (its sequences end to end); the boundary between parts carries [rows][width]
/// hidden states forward and their gradients back. The trainable parameters are the LoRA
/// adapter's factors of each part's layers, the adapter's own `Parameter`s.
public final class TransformerStages: StageOperations {
    public typealias MicroBatch = TrainingBatch

    /// What a part's forward kept (its blocks' activations).
    public final class Activations: StoredActivations {
        let kept: TrainingActivations
        init(_ kept: TrainingActivations) { self.kept = kept }
        public var byteCount: Int { kept.byteCount }
    }

    /// What a part's B kept for its W.
    public final class WeightInputs: StoredActivations {
        let inputs: WeightGradientInputs
        init(_ inputs: WeightGradientInputs) { self.inputs = inputs }
        public var byteCount: Int { inputs.byteCount }
    }

    public let adapter: LoRAAdapter
    /// Layers of each part.
    public let partLayers: [Range<Int>]
    /// The models of the parts this rank holds.
    public let models: [Int: Transformer]
    let width: Int

    /// The model in `file` cut into parts of `partLayers` (consecutive, covering every layer), loading
    /// `heldParts` (all by default) with `adapter`'s factors beside their products, run under `context`.
    public init(file: GGUFFile, adapter: LoRAAdapter, partLayers: [Range<Int>], heldParts: [Int]? = nil, context: ExecutionContext,
                contextLength: Int) throws {
        let config = try ModelConfig(metadata: file.metadata)
        guard partLayers.first?.lowerBound == 0, partLayers.last?.upperBound == config.layerCount,
              zip(partLayers, partLayers.dropFirst()).allSatisfy({ $0.upperBound == $1.lowerBound }), partLayers.allSatisfy({ !$0.isEmpty }) else {
            throw TrainingError.invalidPipeline("parts \(partLayers) do not cut the model's \(config.layerCount) layers into consecutive non-empty ranges")
        }
        try adapter.validate(against: file)
        self.adapter = adapter
        self.partLayers = partLayers
        width = config.embeddingLength
        var models: [Int: Transformer] = [:]
        for part in heldParts ?? Array(partLayers.indices) {
            models[part] = try Transformer(file: file, context: context, contextCapacity: contextLength, maxBatch: 1,
                                           part: ModelPart(layers: partLayers[part]), adapters: adapter.adapters(layers: partLayers[part]))
        }
        self.models = models
    }

    /// `layers` cut into `parts` ranges as evenly as possible.
    public static func evenParts(layers: Int, parts: Int) throws -> [Range<Int>] {
        guard parts >= 1, parts <= layers else {
            throw TrainingError.invalidPipeline("\(layers) layers cannot be cut into \(parts) pipeline parts (each needs at least one layer)")
        }
        return (0..<parts).map { p in p * layers / parts..<(p + 1) * layers / parts }
    }

    public var partCount: Int { partLayers.count }

    public func boundaryCount(_ batch: TrainingBatch, part: Int) -> Int { batch.rows * width }

    func model(_ part: Int) throws -> Transformer {
        guard let model = models[part] else { throw TrainingError.invalidPipeline("part \(part) is not held on this rank") }
        return model
    }

    public func forward(_ batch: TrainingBatch, part: Int, input: UnsafeBufferPointer<Float>?,
                        output: UnsafeMutableBufferPointer<Float>?) throws -> (activations: Activations, lossSum: Double?) {
        let kept = try model(part).trainingForward(batch, input: input?.baseAddress, output: output?.baseAddress)
        return (Activations(kept), kept.lossSum)
    }

    public func backwardInput(_ batch: TrainingBatch, part: Int, activations: Activations, outputGradient: UnsafeBufferPointer<Float>?,
                              lossScale: Float, inputGradient: UnsafeMutableBufferPointer<Float>?) throws -> WeightInputs {
        WeightInputs(try model(part).trainingBackwardInput(activations.kept, outputGradient: outputGradient?.baseAddress, lossScale: lossScale,
                                                           inputGradient: inputGradient?.baseAddress))
    }

    public func backwardWeight(_ batch: TrainingBatch, part: Int, inputs: WeightInputs) throws {
        try model(part).trainingBackwardWeights(inputs.inputs)
    }

    public func parameters(part: Int) -> [Parameter] { models[part]?.loraParameters ?? [] }
}

extension TrainingBatch {
    /// The rows of `sequences` end to end.
    public init(_ sequences: [TrainingSequence]) {
        self.init(sequences.map { ($0.inputs, $0.targets, $0.lossMask) })
    }
}
