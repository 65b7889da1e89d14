/// The library: `import Chorus` gives the decoding engine (models, sampling, the decode loop,
/// speculative decoding, the batch scheduler, skeleton-of-thought, plan and drafter choice), the
/// tokenizers, execution plans, and this module's model store and catalog, benchmarks and tuner.
@_exported import ChorusEngine
@_exported import ChorusModels
@_exported import ChorusPlanner
@_exported import ChorusSpeculative
@_exported import ChorusTokenizers
import ChorusRuntime

extension LanguageModel {
    /// Load a catalog id or a .gguf path (a catalog model is fetched on first use).
    ///
    /// - Parameters:
    ///   - threads: threads for the operators (the caller's thread included).
    ///   - context: KV-cache size; nil means the smaller of the trained context and 4096.
    ///   - maxBatch: rows per forward pass (prefill chunk, widest token tree, rows of a batched step).
    ///   - part: the blocks and tensor slice this process runs (the whole model by default).
    public static func load(_ reference: String, threads: Int = LanguageModel.defaultThreads, context: Int? = nil,
                            maxBatch: Int = 64, part: ModelPart = .whole, store: ModelStore = ModelStore()) throws -> LanguageModel {
        let path = try store.resolve(reference)
        return try LanguageModel(path: path, pool: ThreadPool(threads: threads), context: context, maxBatch: maxBatch, part: part)
    }
}

extension PlannedDecoder {
    /// The plan's draft model is fetched from `store` when it is not given.
    public convenience init(plan: ExecutionPlan, model: LanguageModel, draftModel: LanguageModel? = nil,
                            store: ModelStore = ModelStore()) throws {
        try self.init(plan: plan, model: model, draftModel: draftModel, resolve: { try store.resolve($0) })
    }
}

extension DraftingChoice {
    /// The speculation for `target`, a draft model fetched from `store` when the drafter is one.
    public func speculation(target: LanguageModel, maxSequences: Int = .max, sampled: Bool = true,
                            store: ModelStore) throws -> Speculation {
        try speculation(target: target, maxSequences: maxSequences, sampled: sampled, resolve: { try store.resolve($0) })
    }
}

extension ServingChoice {
    /// `model` under the partition and the speculation; a draft model is fetched from `store`.
    public func apply(to model: LanguageModel, maxSequences: Int,
                      store: ModelStore) throws -> (model: LanguageModel, speculation: Speculation?) {
        try apply(to: model, maxSequences: maxSequences, resolve: { try store.resolve($0) })
    }
}
