import ChorusModels
import ChorusSpeculative
import ChorusTokenizers
import Foundation

/// How the decode loop speculates: who drafts for each sequence, the token tree they fill, how many
/// rows one verification may take, and when speculation pays.
public struct Speculation: @unchecked Sendable {
    /// Makes the drafter of one sequence (each sequence gets its own: a draft model keeps a cache).
    public var makeDrafter: () throws -> any Drafter
    public var shape: TreeShape
    /// Most rows one verification evaluates, root included (an execution plan's width); nil: the tree's.
    public var width: Int?
    /// Speculate only while at most this many sequences decode: verification rows cost nearly as
    /// much as decoding rows on a CPU, so it pays only when the batch is small.
    public var maxSequences: Int
    /// Whether sampled sequences speculate too (lossless tree sampling), or greedy ones only. A
    /// server keeps it off, so a seeded request's tokens never depend on its neighbours.
    public var sampled: Bool
    /// The drafter's name for reports ("ngram", a model id).
    public var drafterName: String

    public init(drafterName: String, shape: TreeShape, width: Int? = nil, maxSequences: Int = .max, sampled: Bool = true,
                makeDrafter: @escaping () throws -> any Drafter) {
        self.drafterName = drafterName
        self.shape = shape
        self.width = width
        self.maxSequences = max(1, maxSequences)
        self.sampled = sampled
        self.makeDrafter = makeDrafter
    }

    /// One drafter instance (a single sequence's, or a stateless one every sequence may share).
    public init(drafter: any Drafter, shape: TreeShape, width: Int? = nil) {
        self.init(drafterName: "\(type(of: drafter))", shape: shape, width: width) { drafter }
    }

    /// Prompt lookup (`NGramDrafter`).
    public static func ngram(shape: TreeShape, width: Int? = nil, maxSequences: Int = .max, sampled: Bool = true) -> Speculation {
        Speculation(drafterName: "ngram", shape: shape, width: width, maxSequences: maxSequences, sampled: sampled) { NGramDrafter() }
    }

    /// A draft model sharing `target`'s vocabulary; each sequence drafts with its own draft cache.
    public static func draftModel(_ draft: LanguageModel, name: String, target: LanguageModel, shape: TreeShape,
                                  vocabulary: Int? = ModelDrafter.defaultVocabulary, width: Int? = nil,
                                  maxSequences: Int = .max, sampled: Bool = true) throws -> Speculation {
        _ = try ModelDrafter(draft: draft, target: target, vocabulary: vocabulary)  // refuses another vocabulary now
        return Speculation(drafterName: name, shape: shape, width: width, maxSequences: maxSequences, sampled: sampled) {
            try ModelDrafter(draft: draft, target: target, vocabulary: vocabulary)
        }
    }

    /// Rows a verification may take: the tree, the plan's width and the model's batch limit.
    func rows(maxBatch: Int) -> Int { min(shape.nodeCount + 1, width ?? .max, maxBatch) }

    /// Whether a sequence sampling with `sampling` drafts (never with a repeat penalty: it depends
    /// on each tree node's history).
    func applies(to sampling: SamplingParameters) -> Bool {
        sampling.repeatPenalty == 1 && (sampling.isGreedy || sampled)
    }
}

extension ModelDrafter {
    /// The ids a draft model proposes from by default: the first 32768 (byte-pair vocabularies put
    /// frequent tokens first; 96-97% of the tokens of code and prose here) plus the end-of-generation
    /// ids. Its output head then reads a fifth of its rows (qwen2.5-coder-0.5b: 151936).
    public static let defaultVocabulary = 32768

    /// A drafter running `draft` for `target`; refuses models whose vocabularies differ (the same
    /// ids must mean the same text).
    /// - Parameter vocabulary: draft from ids 0..<vocabulary and the end-of-generation ids only
    ///   (nil or 0: every id). Output stays exact: the target verifies every proposal.
    public convenience init(draft: LanguageModel, target: LanguageModel, vocabulary: Int? = defaultVocabulary) throws {
        guard draft.tokenizer.vocabularySize == target.tokenizer.vocabularySize else {
            throw SpeculativeError.vocabularyMismatch(draft: draft.tokenizer.vocabularySize, target: target.tokenizer.vocabularySize)
        }
        let ids = Self.headVocabulary(of: draft, vocabulary: vocabulary)
        try self.init(model: draft.transformer.with { $0.headVocabulary = ids }, target: target.config, capacity: target.contextLength)
    }

    /// The head rows a draft model restricted to `vocabulary` ids computes: 0..<vocabulary and the
    /// end-of-generation ids past it; nil (every row) for nil, 0 or a vocabulary at least the model's.
    public static func headVocabulary(of draft: LanguageModel, vocabulary: Int?) -> [Range<Int>]? {
        let size = draft.config.vocabularySize
        guard let vocabulary, vocabulary > 0, vocabulary < size else { return nil }
        let extra = draft.tokenizer.endOfGenerationIDs.filter { $0 >= vocabulary && $0 < size }.sorted()
        return [0..<vocabulary] + extra.map { $0..<$0 + 1 }
    }
}
