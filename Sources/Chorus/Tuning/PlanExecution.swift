import ChorusModels
import ChorusPlanner
import ChorusSpeculative
import Foundation

/// Cuts every draft to the plan's verification width (rows, root included).
final class WidthLimitedDrafter: Drafter {
    let inner: any Drafter
    let width: Int

    init(_ inner: any Drafter, width: Int) {
        self.inner = inner
        self.width = width
    }

    func draft(context: [Int], shape: TreeShape, limit: Int) throws -> TokenTree {
        try inner.draft(context: context, shape: shape, limit: min(limit, width))
    }
}

/// A target model set up to decode as an execution plan says: its partition applied, the plan's
/// drafter loaded and the tree shape ready.
public final class PlannedDecoder {
    public let plan: ExecutionPlan
    public let model: LanguageModel
    public let shape: TreeShape?
    public let drafter: (any Drafter)?
    /// The draft model, when the drafter is one.
    public let draftModel: LanguageModel?

    /// - Parameter draftModel: an already loaded draft model to reuse (else loaded from the plan's id).
    public init(plan: ExecutionPlan, model: LanguageModel, draftModel: LanguageModel? = nil, store: ModelStore = ModelStore()) throws {
        try plan.validate()
        guard plan.partition.units.count == model.transformer.pool.threadCount else {
            throw EngineError.invalidArgument("the plan splits operators over \(plan.partition.units.count) units, the model runs \(model.transformer.pool.threadCount) threads (load it with the plan's threads)")
        }
        self.plan = plan
        let model = try model.with { $0.plan = plan.partition }
        self.model = model
        shape = try plan.shape()
        if let shape, shape.nodeCount + 1 > model.transformer.maxBatch {
            throw SpeculativeError.treeTooLarge(nodes: shape.nodeCount + 1, maxBatch: model.transformer.maxBatch)
        }
        var loaded: LanguageModel?
        var inner: (any Drafter)?
        switch plan.drafter {
        case .none: break
        case .ngram: inner = NGramDrafter()
        case .model(let id):
            // The draft model shares the target's pool: their regions never overlap, and no second set of workers spins.
            let draft = try draftModel ?? LanguageModel(path: store.resolve(id), pool: model.transformer.pool,
                                                        context: model.contextLength, maxBatch: max(64, (shape?.nodeCount ?? 0) + 1))
            loaded = draft
            inner = try ModelDrafter(draft: draft, target: model)
        }
        self.draftModel = loaded
        drafter = inner.map { WidthLimitedDrafter($0, width: plan.verificationWidth) }
    }

    /// Greedy generation under the plan (speculative when it has a drafter): the same tokens as
    /// plain greedy decoding either way.
    public func generate(promptIDs: [Int], cache: KVCache, maxTokens: Int,
                         onToken: (Int, String) -> Bool = { _, _ in true }) throws -> (GenerationResult, SpeculativeStatistics?) {
        let generator = Generator(model: model)
        if let drafter, let shape {
            let (result, stats) = try generator.generateSpeculative(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens,
                                                                    drafter: drafter, shape: shape, onToken: onToken)
            return (result, stats)
        }
        let result = try generator.generate(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, sampling: .greedy,
                                            onToken: onToken)
        return (result, nil)
    }
}
