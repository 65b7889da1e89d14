import Chorus
import ChorusTestSupport
import Foundation
import Testing

/// The whole engine against llama.cpp's reference outputs (`Tests/Fixtures/oracle/<model>.json`): tokenizer
/// ids exact, greedy continuations exact for 8 steps up to a near-tie with log-probabilities within
/// 0.05, perplexity within 1%. Heavy: run in release (`swift test -c release`).
@Suite(.serialized) struct OracleTests {
    static let models = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    /// Log-probability tolerance per model for the greedy steps. The oracle came from llama-server,
    /// whose prompt cache reuses the previous request's KV entries for a shared prefix (Gemma's BOS),
    /// so each oracle prompt was evaluated in a batch split this test cannot know. SmolLM2 and the
    /// Qwen models are insensitive to that split; Gemma 3 is not: llama.cpp itself moves the first
    /// step's log-probability of "The capital of France is" from -1.626 (one batch) to -1.672 (BOS
    /// alone first) against the oracle's -1.594, and by up to 0.16 on later steps. Chorus equals
    /// llama.cpp bit for bit for a known split (`LlamaLogitsTests` with `CHORUS_LLAMA_ROUNDING`), so
    /// Gemma's steps are held to exact ids (up to near-ties) and to the spread llama.cpp shows.
    /// (Fed token by token, llama.cpp itself flips the first step of the chat-template prompt from
    /// 3689 to 236820, as Chorus's batch-invariant default mode does; this test uses the batched order.)
    static let logprobTolerance: [String: Double] = ["gemma3-270m": 0.2]

    static func load(_ id: String, context: Int = 1024) throws -> LanguageModel {
        try LanguageModel.load(try TestModels.path(id), threads: 2, context: context, maxBatch: 64)
    }

    @Test(arguments: models)
    func tokenizerIdsAreExact(model id: String) throws {
        let oracle = try Oracle.load(id)
        let model = try Self.load(id)
        for case_ in oracle.tokenize {
            let ids = model.tokenize(case_.text, addSpecial: case_.add_special, parseSpecial: case_.parse_special)
            #expect(ids == case_.ids, "\(id): \(case_.text.debugDescription)")
        }
    }

    @Test(arguments: models)
    func greedyContinuationsMatch(model id: String) throws {
        let oracle = try Oracle.load(id)
        // The oracle's prompt rows were computed with llama.cpp's batch-dependent K-quant rounding.
        let model = try Self.load(id).with { $0.rounding = .llamaCpp }
        for greedy in oracle.greedy {
            let promptIDs = model.tokenize(greedy.prompt)
            #expect(promptIDs == greedy.prompt_ids, "\(id) prompt ids for \(greedy.prompt.debugDescription)")
            let cache = model.makeCache()
            var logits = try model.transformer.forward(.sequence(promptIDs, start: 0), cache: cache)
            var ids: [Int] = [], logprobs: [Double] = []
            for _ in 0..<8 {
                let row = logits.row(0)
                let best = Sampler.argmax(row)
                ids.append(best)
                logprobs.append(logProbability(row, best))
                logits = try model.transformer.forward(.sequence([best], start: cache.count), cache: cache)
            }
            let failure = Oracle.compareGreedy(greedy, ids: ids, logprobs: logprobs, tolerance: Self.logprobTolerance[id] ?? 0.05)
            #expect(failure == nil, "\(id) \(greedy.prompt.debugDescription): \(failure ?? "")")
        }
    }

    @Test(arguments: models)
    func perplexityIsWithinOnePercent(model id: String) throws {
        let oracle = try Oracle.load(id)
        let model = try Self.load(id, context: oracle.perplexity.context)
        let text = try String(contentsOfFile: Fixtures.directory + "/oracle/" + oracle.perplexity.text, encoding: .utf8)
        let result = try Perplexity(model: model).evaluate(text: text, context: oracle.perplexity.context)
        let relative = abs(result.ppl - oracle.perplexity.ppl) / oracle.perplexity.ppl
        #expect(relative < 0.01, "\(id): PPL \(result.ppl) vs llama.cpp \(oracle.perplexity.ppl)")
    }

    @Test func generateStopsAtEndOfGenerationAndIsSeedReproducible() throws {
        let model = try Self.load("smollm2-135m")
        let prompt = model.tokenize(try model.chatPrompt("What is 2+2?"))
        let greedy = try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 64,
                                                          sampling: .greedy)
        #expect(greedy.stopReason == .endOfGeneration)
        #expect(greedy.text.contains("4"))
        var sampling = SamplingParameters()
        sampling.seed = 1234
        let a = try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 24, sampling: sampling)
        let b = try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 24, sampling: sampling)
        #expect(a.ids == b.ids)
    }

    @Test func overlongPromptIsAClearError() throws {
        let model = try Self.load("smollm2-135m", context: 16)
        let prompt = model.tokenize(String(repeating: "hello world ", count: 20))
        #expect(throws: EngineError.promptTooLong(tokens: prompt.count, context: 16)) {
            try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 4, sampling: .greedy)
        }
    }
}

/// log softmax(row)[id] in double precision.
func logProbability(_ row: UnsafeBufferPointer<Float>, _ id: Int) -> Double {
    let m = Double(row.max()!)
    var sum = 0.0
    for v in row { sum += exp(Double(v) - m) }
    return Double(row[id]) - m - log(sum)
}
