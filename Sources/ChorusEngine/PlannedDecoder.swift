import ChorusModels
import ChorusPlanner
import ChorusRuntime
import ChorusSpeculative
import Foundation

/// Who drafts, the token tree and the verification width, before any model is loaded: from
/// `--draft D [--tree S | --draft-length K]`, from `--speculate K`, or from an execution plan.
public struct DraftingChoice: Sendable, Equatable {
    public var drafter: DrafterChoice
    public var shape: TreeShape
    /// Rows per verification, root included (an execution plan's); nil: the whole tree.
    public var width: Int?
    /// A draft model proposes from its first N ids and the end-of-generation ids (nil or 0: every id).
    public var draftVocabulary: Int?

    public init(drafter: DrafterChoice, shape: TreeShape, width: Int? = nil, draftVocabulary: Int? = ModelDrafter.defaultVocabulary) {
        self.drafter = drafter
        self.shape = shape
        self.width = width
        self.draftVocabulary = draftVocabulary
    }

    /// `--draft D` with `--tree S`, else a chain of `draftLength` (4 when neither is given).
    public init(draft: String, tree: String?, draftLength: Int?, draftVocabulary: Int? = ModelDrafter.defaultVocabulary) throws {
        let shape = try tree.map(TreeShape.parse) ?? TreeShape.chain(draftLength ?? 4)
        self.init(drafter: DrafterChoice(draft), shape: shape, draftVocabulary: draftVocabulary)
    }

    /// The plan's drafter, tree and width; nil when the plan does not draft.
    public init?(plan: ExecutionPlan) throws {
        guard plan.drafter != .none, let shape = try plan.shape() else { return nil }
        self.init(drafter: plan.drafter, shape: shape, width: plan.verificationWidth)
    }

    /// The decode loop's speculation for `target`: prompt lookup, or the draft model (loaded from
    /// the path `resolve` gives its id, on the target's threads: the two never run at once).
    public func speculation(target: LanguageModel, maxSequences: Int = .max, sampled: Bool = true,
                            draftModel: LanguageModel? = nil, resolve: (String) throws -> String) throws -> Speculation {
        switch drafter {
        case .none:
            throw EngineError.invalidArgument("no drafter to speculate with")
        case .ngram:
            return .ngram(shape: shape, width: width, maxSequences: maxSequences, sampled: sampled)
        case .model(let id):
            let draft = try draftModel ?? LanguageModel(path: resolve(id), pool: target.transformer.pool, context: target.contextLength,
                                                        maxBatch: max(64, shape.nodeCount + 1))
            return try .draftModel(draft, name: id, target: target, shape: shape, vocabulary: draftVocabulary, width: width,
                                   maxSequences: maxSequences, sampled: sampled)
        }
    }
}

/// What `chorus serve` decodes with, from `--plan` (an execution plan from `chorus tune`, whose
/// threads, partition, drafter, tree and width it takes; or a bare partition plan) and
/// `--draft`/`--speculate`.
public struct ServingChoice: Sendable {
    /// Threads to load the model with (an execution plan's), nil: the caller's.
    public var threads: Int?
    public var partition: PartitionPlan?
    public var drafting: DraftingChoice?
    /// Where `partition` came from, for errors.
    public var planPath: String?

    /// - Parameters:
    ///   - speculate: draft chains of K tokens (0: off; 2 when `draft` is given without it).
    ///   - draft: `ngram` or a draft model (id or path); prompt lookup when nil and `speculate` > 0.
    public init(plan: String?, draft: String?, speculate: Int?, draftVocabulary: Int? = ModelDrafter.defaultVocabulary) throws {
        planPath = plan
        var execution: ExecutionPlan?
        if let plan {
            do {
                execution = try ExecutionPlan.load(path: plan)
            } catch let planError {
                do {
                    partition = try PartitionPlan.load(path: plan)
                } catch {
                    throw EngineError.invalidArgument("--plan \(plan) is neither an execution plan (\(planError)) nor a partition plan (\(error))")
                }
            }
        }
        if let execution {
            guard draft == nil, speculate == nil else {
                throw EngineError.invalidArgument("--plan \(plan!) names the drafter and tree: drop --draft and --speculate")
            }
            threads = execution.threads
            partition = execution.partition
            drafting = try DraftingChoice(plan: execution)
            return
        }
        let length = speculate ?? (draft != nil ? 2 : 0)
        if length > 0 {
            drafting = DraftingChoice(drafter: DrafterChoice(draft ?? "ngram"), shape: try .chain(length), draftVocabulary: draftVocabulary)
        }
    }

    /// `model` running under the partition (checked against its threads; a view, `LanguageModel.with`)
    /// and the speculation, greedy sequences only (a seeded request's tokens must not depend on its
    /// neighbours).
    public func apply(to model: LanguageModel, maxSequences: Int,
                      resolve: (String) throws -> String) throws -> (model: LanguageModel, speculation: Speculation?) {
        var model = model
        if let partition {
            do {
                try partition.validate(forUnits: model.transformer.pool.threadCount)
            } catch {
                throw EngineError.invalidArgument("--plan \(planPath ?? ""): \(error)")
            }
            model = try model.with { $0.plan = partition }
        }
        return (model, try drafting?.speculation(target: model, maxSequences: maxSequences, sampled: false, resolve: resolve))
    }
}

/// A target model set up to decode as an execution plan says: its partition applied, the plan's
/// drafter loaded and the tree shape ready.
public final class PlannedDecoder {
    public let plan: ExecutionPlan
    public let model: LanguageModel
    public let shape: TreeShape?
    public let speculation: Speculation?
    /// The draft model, when the drafter is one.
    public let draftModel: LanguageModel?

    /// - Parameters:
    ///   - draftModel: an already loaded draft model to reuse (else loaded from the plan's id).
    ///   - resolve: the path of a draft model id.
    public init(plan: ExecutionPlan, model: LanguageModel, draftModel: LanguageModel? = nil, resolve: (String) throws -> String) throws {
        try plan.validate()
        guard plan.partition.units.count == model.transformer.pool.threadCount else {
            throw EngineError.invalidArgument("the plan splits operators over \(plan.partition.units.count) units, the model runs \(model.transformer.pool.threadCount) threads (load it with the plan's threads)")
        }
        self.plan = plan
        let model = try model.with { $0.plan = plan.partition }
        self.model = model
        shape = try plan.shape()
        if let shape, shape.nodeCount + 1 > model.maxBatch {
            throw SpeculativeError.treeTooLarge(nodes: shape.nodeCount + 1, maxBatch: model.maxBatch)
        }
        var loaded = draftModel
        if let choice = try DraftingChoice(plan: plan), case .model(let id) = choice.drafter, loaded == nil {
            loaded = try LanguageModel(path: resolve(id), pool: model.transformer.pool, context: model.contextLength,
                                       maxBatch: max(64, choice.shape.nodeCount + 1))
        }
        self.draftModel = loaded
        speculation = try DraftingChoice(plan: plan)?.speculation(target: model, draftModel: loaded, resolve: resolve)
    }

    /// Generation under the plan (speculative when it has a drafter): greedy, the same tokens as
    /// plain greedy decoding either way; sampled, the same law.
    public func generate(promptIDs: [Int], cache: KVCache, maxTokens: Int, sampling: SamplingParameters = .greedy,
                         onToken: (Int, String) -> Bool = { _, _ in true }) throws -> (GenerationResult, SpeculativeStatistics?) {
        let result = try Generator(model: model).generate(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, sampling: sampling,
                                                          speculation: speculation, onToken: onToken)
        return (result, speculation == nil ? nil : result.statistics)
    }
}
