import ChorusModels
import ChorusSpeculative
import ChorusTokenizers
import Foundation

extension ModelDrafter {
    /// A drafter running `draft` for `target`; refuses models whose vocabularies differ (the same
    /// ids must mean the same text).
    /// The ids a draft model proposes from by default: the first 32768 (byte-pair vocabularies put
    /// frequent tokens first; 96-97% of the tokens of code and prose here) plus the end-of-generation
    /// ids. Its output head then reads a fifth of its rows (qwen2.5-coder-0.5b: 151936).
    public static let defaultVocabulary = 32768

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

extension Generator {
    /// Generation with speculative decoding, fewer target forward passes when the drafter guesses
    /// well. Greedy: the same tokens as `generate` with greedy sampling. Sampling (temperature > 0):
    /// tokens with the law of `generate`'s sampling under the same parameters (lossless tree
    /// speculative sampling; seeded, but not the same draws as plain sampling). No repeat penalty.
    public func generateSpeculative(promptIDs: [Int], cache: KVCache, maxTokens: Int, drafter: any Drafter,
                                    shape: TreeShape, sampling: SamplingParameters = .greedy,
                                    onToken: (Int, String) -> Bool = { _, _ in true })
        throws -> (GenerationResult, SpeculativeStatistics) {
        guard !promptIDs.isEmpty else { throw EngineError.emptyPrompt }
        try sampling.validate()
        guard sampling.repeatPenalty == 1 else {
            throw EngineError.invalidArgument("speculative decoding does not support a repeat penalty (it depends on each tree node's history)")
        }
        guard promptIDs.count <= cache.capacity else {
            throw EngineError.promptTooLong(tokens: promptIDs.count, context: cache.capacity)
        }
        let speculative = try SpeculativeGenerator(target: model.transformer, drafter: drafter, shape: shape)
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        var text = ""
        let emit = { (id: Int) -> Bool in
            let piece = decoder.append(id)
            text += piece
            return onToken(id, piece)
        }
        let stopIDs = Set(model.tokenizer.endOfGenerationIDs)
        let result: SpeculativeGenerator.Result
        if sampling.isGreedy {
            result = try speculative.generate(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, stopIDs: stopIDs,
                                              onToken: emit)
        } else {
            var random = SeededGenerator(seed: sampling.seed)
            result = try speculative.generate(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, stopIDs: stopIDs,
                                              policy: SamplerPolicy(sampling), random: &random, onToken: emit)
        }
        let reason: StopReason
        switch result.stop {
        case .endOfGeneration: reason = .endOfGeneration
        case .maxTokens: reason = .maxTokens
        case .contextFull: reason = .contextFull
        case .stoppedByCaller: reason = .stoppedByCaller
        }
        let generation = GenerationResult(promptIDs: promptIDs, ids: result.ids, text: text, stopReason: reason,
                                          promptSeconds: result.promptSeconds,
                                          generationSeconds: result.statistics.generationSeconds)
        return (generation, result.statistics)
    }
}
