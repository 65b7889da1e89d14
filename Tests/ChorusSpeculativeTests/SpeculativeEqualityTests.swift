import Chorus
import ChorusModels
import ChorusRuntime
import ChorusSpeculative
import ChorusTestSupport
import Foundation
import Testing

/// Slots 0..<cache.count that differ from a plain causal run over `tokens` (the tokens the cache
/// claims to hold): 0 when every rollback and move left exactly what plain decoding would.
func cacheMismatches(_ cache: KVCache, tokens: [Int], model: Transformer) throws -> Int {
    precondition(tokens.count >= cache.count)
    guard cache.count > 0 else { return 0 }
    let reference = model.makeCache(capacity: cache.capacity)
    _ = try model.forward(.sequence(Array(tokens[0..<cache.count]), start: 0, logits: .none), cache: reference)
    var mismatches = 0
    for layer in 0..<cache.layerCount {
        for head in 0..<cache.kvHeadCount {
            let o = cache.offset(layer: layer, head: head, slot: 0)
            for i in 0..<cache.count * cache.headDimension
            where cache.keys[o + i] != reference.keys[o + i] || cache.values[o + i] != reference.values[o + i] {
                mismatches += 1
            }
        }
    }
    return mismatches
}

/// Greedy speculative decoding equals plain greedy decoding on the oracle prompts and the
/// code prompts fixture, for chains, trees and n-gram drafting, with and without lookahead drafting; target
/// and draft caches hold exactly the keys and values of the tokens they claim.
@Suite(.serialized) struct SpeculativeEqualityTests {
    func load(_ id: String, context: Int = 512, threads: Int = 2) throws -> LanguageModel {
        try LanguageModel(path: TestModels.path(id), pool: ThreadPool(threads: threads, pin: threads > 1), context: context,
                          maxBatch: 64)
    }

    func plain(_ model: LanguageModel, _ prompt: [Int], _ n: Int) throws -> [Int] {
        try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: n, sampling: .greedy).ids
    }

    /// Run `drafter` with `shape`; expect plain's tokens and a target cache matching them.
    func expectEqual(_ model: LanguageModel, _ prompt: [Int], expected: [Int], drafter: any Drafter, shape: TreeShape,
                     _ label: String) throws -> SpeculativeStatistics {
        let cache = model.makeCache()
        let (result, stats) = try Generator(model: model).generateSpeculative(promptIDs: prompt, cache: cache,
                                                                              maxTokens: expected.count, drafter: drafter, shape: shape)
        #expect(result.ids == expected, "\(label): speculative tokens differ from plain greedy")
        #expect(try cacheMismatches(cache, tokens: prompt + result.ids, model: model.transformer) == 0, "\(label): target cache")
        return stats
    }

    static func codePrompts() throws -> [String] {
        try SpeculativeBenchmark.loadPrompts(Fixtures.directory + "/prompts/code.jsonl")
    }

    @Test func oraclePromptsSmolLM() throws {
        let model = try load("smollm2-135m")
        let draftModel = try load("smollm2-135m")
        let oracle = try Oracle.load("smollm2-135m")
        for (i, c) in oracle.greedy.enumerated() {
            let expected = try plain(model, c.prompt_ids, 20)
            for shape in [try TreeShape.chain(3), try TreeShape(branching: [2, 2, 1])] {
                let drafter = try ModelDrafter(draft: draftModel, target: model)
                _ = try expectEqual(model, c.prompt_ids, expected: expected, drafter: drafter, shape: shape, "oracle \(i) model \(shape)")
                #expect(try cacheMismatches(drafter.cache, tokens: drafter.cachedTokens, model: draftModel.transformer) == 0)
            }
            for shape in [try TreeShape.chain(4), try TreeShape(branching: [3, 1, 1])] {
                _ = try expectEqual(model, c.prompt_ids, expected: expected, drafter: NGramDrafter(), shape: shape,
                                    "oracle \(i) ngram \(shape)")
            }
        }
    }

    @Test func codePromptsNGramSmolLM() throws {
        let model = try load("smollm2-135m", context: 256)
        var drafted = 0
        for (i, prompt) in try Self.codePrompts().enumerated() {
            let ids = model.tokenize(try model.chatPrompt(prompt))
            let expected = try plain(model, ids, 16)
            for shape in [try TreeShape.chain(4), try TreeShape(branching: [3, 1, 1])] {
                drafted += try expectEqual(model, ids, expected: expected, drafter: NGramDrafter(minN: 1), shape: shape,
                                           "code \(i) ngram \(shape)").drafted
            }
        }
        #expect(drafted > 0)
    }

    /// The Qwen pair disagrees now and then, so drafts are rejected and the draft cache rolls back;
    /// lookahead drafting prefetches on its own pool and drops wrong guesses.
    @Test func codePromptQwenPairWithLookahead() throws {
        let target = try load("qwen2.5-coder-1.5b", context: 256)
        let draft = try load("qwen2.5-coder-0.5b", context: 256)
        let prompt = target.tokenize(try target.chatPrompt(try Self.codePrompts()[3]))
        let expected = try plain(target, prompt, 20)
        var rejected = 0
        for shape in [try TreeShape.chain(3), try TreeShape(branching: [2, 1, 1])] {
            let drafter = try ModelDrafter(draft: draft, target: target)
            let stats = try expectEqual(target, prompt, expected: expected, drafter: drafter, shape: shape, "qwen \(shape)")
            rejected += stats.drafted - stats.accepted
            #expect(try cacheMismatches(drafter.cache, tokens: drafter.cachedTokens, model: draft.transformer) == 0)
        }
        #expect(rejected > 0, "the pair should disagree somewhere (else rollback went untested)")

        // Lookahead: target and draft on separate one-thread pools.
        let soloTarget = try load("qwen2.5-coder-1.5b", context: 256, threads: 1)
        let soloDraft = try load("qwen2.5-coder-0.5b", context: 256, threads: 1)
        let inner = try ModelDrafter(draft: soloDraft, target: soloTarget)
        let lookahead = LookaheadDrafter(inner)
        _ = try expectEqual(soloTarget, prompt, expected: expected, drafter: lookahead, shape: .chain(3), "qwen lookahead")
        lookahead.finish()
        #expect(lookahead.hits > 0)
        #expect(try cacheMismatches(inner.cache, tokens: inner.cachedTokens, model: soloDraft.transformer) == 0)
    }

    /// A draft model restricted to part of its vocabulary computes exactly those logits (the others
    /// -infinity) and prefills the prompt before the first round; greedy speculation still gives
    /// plain's tokens, with the drafter proposing from 1000 ids or from all of them.
    @Test func restrictedDraftVocabulary() throws {
        let model = try load("smollm2-135m")
        let prompt = model.tokenize(try model.chatPrompt("Write a Python function that reverses a string."))
        let full = Array(try model.transformer.forward(.sequence(prompt, start: 0), cache: model.makeCache()).row(0))
        let draftModel = try load("smollm2-135m")
        // The head computes the listed ids (split anywhere between the threads) and nothing else.
        let kept: [Range<Int>] = [5..<1000, 2000..<2001, 40000..<40003]
        let restrictedModel = try draftModel.transformer.with { $0.headVocabulary = kept }
        let restricted = Array(try restrictedModel.forward(.sequence(prompt, start: 0), cache: draftModel.makeCache()).row(0))
        var outside = 0
        for i in full.indices {
            if kept.contains(where: { $0.contains(i) }) {
                #expect(restricted[i].bitPattern == full[i].bitPattern, "logit \(i)")
            } else if restricted[i] != -.infinity {
                outside += 1
            }
        }
        #expect(outside == 0)
        // A drafter of 1000 ids keeps the end-of-generation ids past them too.
        let drafter = try ModelDrafter(draft: draftModel, target: model, vocabulary: 1000)
        let eog = model.tokenizer.endOfGenerationIDs.filter { $0 >= 1000 }.sorted()
        #expect(drafter.model.context.headVocabulary == [0..<1000] + eog.map { $0..<$0 + 1 })
        let expected = try plain(model, prompt, 24)
        let stats = try expectEqual(model, prompt, expected: expected, drafter: drafter, shape: .chain(3), "1000 ids")
        #expect(stats.draftPromptSeconds > 0)
        #expect(try cacheMismatches(drafter.cache, tokens: drafter.cachedTokens, model: draftModel.transformer) == 0)
        let whole = try ModelDrafter(draft: draftModel, target: model, vocabulary: 0)
        #expect(whole.model.context.headVocabulary == nil)
        _ = try expectEqual(model, prompt, expected: expected, drafter: whole, shape: .chain(3), "every id")
    }

    /// KV rollback primitives: moved slots carry every layer's keys and values; trimming forgets.
    @Test func cacheMoveAndTrim() {
        let cache = KVCache(layers: 2, kvHeads: 2, headDimension: 4, capacity: 8)
        for layer in 0..<2 {
            for head in 0..<2 {
                for slot in 0..<8 {
                    for i in 0..<4 {
                        let o = cache.offset(layer: layer, head: head, slot: slot) + i
                        cache.keys[o] = UInt16(1000 * layer + 100 * head + 10 * slot + i)
                        cache.values[o] = UInt16(5000 + 1000 * layer + 100 * head + 10 * slot + i)
                    }
                }
            }
        }
        cache.count = 3
        cache.move(slot: 6, to: 3)
        cache.move(slot: 3, to: 3)
        for layer in 0..<2 {
            for head in 0..<2 {
                let o = cache.offset(layer: layer, head: head, slot: 3)
                #expect(cache.keys[o + 2] == UInt16(1000 * layer + 100 * head + 60 + 2))
                #expect(cache.values[o + 1] == UInt16(5000 + 1000 * layer + 100 * head + 60 + 1))
                // Neighbours untouched.
                #expect(cache.keys[cache.offset(layer: layer, head: head, slot: 4)] == UInt16(1000 * layer + 100 * head + 40))
            }
        }
        cache.count = 7
        cache.trim(to: 4)
        #expect(cache.count == 4)
        cache.trim(to: 6)
        #expect(cache.count == 4, "trimming never grows the cache")
    }
}
