import Chorus
import ChorusModels
import ChorusRuntime
import ChorusSpeculative
import ChorusTestSupport
import Testing

/// Speculative sampling on a real model: the first two generated tokens must follow the law of
/// plain sampling, computed exactly from the target's logits under the same sampler chain.
@Suite(.serialized) struct SpeculativeSamplingModelTests {
    func load(_ id: String, context: Int = 128) throws -> LanguageModel {
        try LanguageModel(path: TestModels.path(id), pool: ThreadPool(threads: 2), context: context, maxBatch: 64)
    }

    static var sampling: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 1
        p.topK = 3
        p.topP = 1
        p.minP = 0
        return p
    }

    /// Exact law of the first two tokens after `prompt` under `policy`.
    func exactLaw(_ model: LanguageModel, prompt: [Int], policy: SamplerPolicy) throws -> [[Int]: Double] {
        let cache = model.makeCache()
        let first = policy.distribution(try model.transformer.forward(.sequence(prompt, start: 0), cache: cache).row(0))
        var law: [[Int]: Double] = [:]
        for (a, pa) in zip(first.ids, first.probabilities) {
            cache.trim(to: prompt.count)
            let second = policy.distribution(try model.transformer.forward(.sequence([a], start: prompt.count), cache: cache).row(0))
            for (b, pb) in zip(second.ids, second.probabilities) { law[[a, b]] = pa * pb }
        }
        return law
    }

    func run(_ model: LanguageModel, prompt: [Int], drafter: any Drafter, shape: TreeShape, samples: Int)
        throws -> (counts: [[Int]: Int], accepted: Int) {
        let cache = model.makeCache()
        var counts: [[Int]: Int] = [:]
        var accepted = 0
        for i in 0..<samples {
            var sampling = Self.sampling
            sampling.seed = 2024 + UInt64(i)
            cache.trim(to: 0)
            let (result, statistics) = try Generator(model: model).generateSpeculative(
                promptIDs: prompt, cache: cache, maxTokens: 2, drafter: drafter, shape: shape, sampling: sampling)
            counts[result.ids, default: 0] += 1
            accepted += statistics.accepted
        }
        return (counts, accepted)
    }

    @Test func modelDraftedTreeSamplesTheTargetLaw() throws {
        let model = try load("smollm2-135m")
        let draftModel = try load("smollm2-135m")
        let prompt = model.tokenize("def add(a, b):\n    return")
        let law = try exactLaw(model, prompt: prompt, policy: SamplerPolicy(Self.sampling))
        let drafter = try ModelDrafter(draft: draftModel, target: model)
        // A draft law unlike the target's (flatter, wider), so rejections and residuals happen.
        var flat = Self.sampling
        flat.temperature = 2.5
        flat.topK = 5
        drafter.draftPolicy = SamplerPolicy(flat)
        let samples = 200
        let (counts, accepted) = try run(model, prompt: prompt, drafter: drafter, shape: TreeShape(branching: [2, 1]),
                                         samples: samples)
        let (statistic, df) = chiSquare(counts, expected: law, samples: samples)
        #expect(statistic < chiSquareBound(df: df), "chi-square \(statistic), df \(df)")
        #expect(accepted > 0 && accepted < 2 * samples)
    }

    @Test func nGramDraftsSampleTheTargetLaw() throws {
        let model = try load("smollm2-135m")
        // A repetitive prompt so prompt lookup proposes something.
        let prompt = model.tokenize("x = 1\ny = 2\nx = 1\ny = 2\nx = 1\ny")
        let law = try exactLaw(model, prompt: prompt, policy: SamplerPolicy(Self.sampling))
        let samples = 200
        let (counts, accepted) = try run(model, prompt: prompt, drafter: NGramDrafter(), shape: .chain(2), samples: samples)
        let (statistic, df) = chiSquare(counts, expected: law, samples: samples)
        #expect(statistic < chiSquareBound(df: df), "chi-square \(statistic), df \(df)")
        #expect(accepted > 0)
    }

    @Test func generatorRefusesARepeatPenalty() throws {
        let model = try load("smollm2-135m", context: 64)
        var p = Self.sampling
        p.repeatPenalty = 1.1
        #expect(throws: EngineError.self) {
            try Generator(model: model).generateSpeculative(promptIDs: model.tokenize("a b"), cache: model.makeCache(), maxTokens: 2,
                                                            drafter: NGramDrafter(), shape: .chain(2), sampling: p)
        }
    }
}
