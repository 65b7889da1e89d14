import Chorus
import ChorusModels
import ChorusRuntime
import ChorusSpeculative
import ChorusTestSupport
import Testing

/// Greedy speculative decoding must give exactly the tokens of plain greedy decoding, and leave
/// the KV caches as plain decoding of the accepted tokens would.
@Suite(.serialized) struct SpeculativeGeneratorTests {
    static let code = """
        def fibonacci(n):
            if n < 2:
                return n
            return fibonacci(n - 1) + fibonacci(n - 2)

        def factorial(n):
            if n < 2:
                return 1
            return
        """

    func load(_ id: String, context: Int = 512) throws -> LanguageModel {
        try LanguageModel(path: TestModels.path(id), pool: ThreadPool(threads: 2), context: context, maxBatch: 64)
    }

    func plain(_ model: LanguageModel, _ prompt: [Int], _ n: Int) throws -> [Int] {
        try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: n, sampling: .greedy).ids
    }

    func speculative(_ model: LanguageModel, _ prompt: [Int], _ n: Int, drafter: any Drafter, shape: TreeShape,
                     cache: KVCache? = nil) throws -> ([Int], SpeculativeStatistics) {
        let (result, stats) = try Generator(model: model).generateSpeculative(
            promptIDs: prompt, cache: cache ?? model.makeCache(), maxTokens: n, drafter: drafter, shape: shape)
        return (result.ids, stats)
    }

    /// Cache slots 0..<count must equal those of a plain causal run over `tokens[0..<count]`.
    func expectCacheMatches(_ cache: KVCache, tokens: [Int], model: Transformer) throws {
        #expect(try cacheMismatches(cache, tokens: tokens, model: model) == 0, "KV cache differs from plain decoding of the accepted tokens")
    }

    @Test func selfDraftedChainAndTreeEqualPlainGreedy() throws {
        let model = try load("smollm2-135m")
        let draftModel = try load("smollm2-135m")
        let prompt = model.tokenize(Self.code)
        let expected = try plain(model, prompt, 40)
        for shape in [try TreeShape.chain(4), try TreeShape(branching: [3, 2, 1]), try TreeShape(branching: [1, 2, 2, 1])] {
            let drafter = try ModelDrafter(draft: draftModel, target: model)
            let cache = model.makeCache()
            let (ids, stats) = try speculative(model, prompt, 40, drafter: drafter, shape: shape, cache: cache)
            #expect(ids == expected, "shape \(shape)")
            #expect(stats.accepted > 0)
            #expect(stats.verifications < 40)
            // Target cache: accepted nodes moved into place equal plain decoding of the accepted tokens.
            #expect(cache.count >= prompt.count + ids.count - 1)
            try expectCacheMatches(cache, tokens: prompt + ids, model: model.transformer)
            // Draft cache: rolled back to the accepted prefix.
            try expectCacheMatches(drafter.cache, tokens: prompt + ids, model: draftModel.transformer)
        }
    }

    @Test func nGramDraftingEqualsPlainGreedy() throws {
        let model = try load("smollm2-135m")
        let prompt = model.tokenize(Self.code)
        let expected = try plain(model, prompt, 48)
        for shape in [try TreeShape.chain(4), try TreeShape(branching: [3, 1, 1, 1])] {
            let cache = model.makeCache()
            let (ids, stats) = try speculative(model, prompt, 48, drafter: NGramDrafter(), shape: shape, cache: cache)
            #expect(ids == expected, "shape \(shape)")
            #expect(stats.drafted > 0)
            try expectCacheMatches(cache, tokens: prompt + ids, model: model.transformer)
        }
    }

    @Test func stopsAtTheContextLikePlainDecoding() throws {
        let model = try load("smollm2-135m", context: 80)
        let prompt = model.tokenize(Self.code)
        let plainResult = try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 200,
                                                             sampling: .greedy)
        let (result, _) = try Generator(model: model).generateSpeculative(
            promptIDs: prompt, cache: model.makeCache(), maxTokens: 200, drafter: NGramDrafter(), shape: .chain(4))
        #expect(result.ids == plainResult.ids)
        #expect(result.stopReason == plainResult.stopReason)
    }

    @Test func qwenHalfBillionDraftsForOnePointFive() throws {
        let target = try load("qwen2.5-coder-1.5b", context: 256)
        let draft = try load("qwen2.5-coder-0.5b", context: 256)
        let prompt = target.tokenize(Self.code)
        let expected = try plain(target, prompt, 16)
        let (ids, stats) = try speculative(target, prompt, 16, drafter: ModelDrafter(draft: draft, target: target),
                                           shape: TreeShape(branching: [2, 1, 1]))
        #expect(ids == expected)
        #expect(stats.verifications <= 16)
    }

    @Test func refusesADraftModelWithAnotherVocabulary() throws {
        let target = try load("qwen2.5-coder-0.5b", context: 64)
        let draft = try load("smollm2-135m", context: 64)
        #expect(throws: SpeculativeError.self) { try ModelDrafter(draft: draft, target: target) }
        #expect(throws: SpeculativeError.vocabularyMismatch(draft: draft.config.vocabularySize, target: target.config.vocabularySize)) {
            try ModelDrafter(model: draft.transformer, target: target.config, capacity: 64)
        }
    }
}
