import Chorus
import Foundation
import Testing

private func sampleMany(_ logits: [Float], _ parameters: SamplingParameters, count: Int, history: [Int] = []) -> [Int] {
    var sampler = Sampler(parameters)
    return logits.withUnsafeBufferPointer { buffer in (0..<count).map { _ in sampler.sample(buffer, history: history) } }
}

@Suite struct SamplerTests {
    let logits: [Float] = [2.0, 1.0, 0.5, 3.0, -1.0, 0.0, 2.5, -3.0]

    @Test func greedyPicksTheArgmax() {
        #expect(Set(sampleMany(logits, .greedy, count: 20)) == [3])
    }

    @Test func sameSeedSameTokensDifferentSeedDifferentTokens() {
        var p = SamplingParameters()
        p.topK = 0
        p.topP = 1
        p.minP = 0
        p.temperature = 1.5
        p.seed = 42
        let a = sampleMany(logits, p, count: 200)
        let b = sampleMany(logits, p, count: 200)
        p.seed = 43
        let c = sampleMany(logits, p, count: 200)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count > 3, "high temperature should visit several tokens")
    }

    @Test func topKKeepsOnlyTheKMostLikely() {
        var p = SamplingParameters()
        p.topK = 2
        p.topP = 1
        p.minP = 0
        p.temperature = 5
        #expect(Set(sampleMany(logits, p, count: 300)) == [3, 6])
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // probabilities of [3.0, 2.5, 2.0, ...]: the top two hold 0.710, the top three 0.873.
        var candidates = logits.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
        var p = SamplingParameters()
        p.topK = 0
        p.minP = 0
        p.topP = 0.75
        Sampler.filter(&candidates, parameters: p)
        #expect(candidates.map(\.id) == [3, 6, 0])
        p.topP = 0.01
        candidates = logits.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
        Sampler.filter(&candidates, parameters: p)
        #expect(candidates.map(\.id) == [3], "at least one token is always kept")
    }

    @Test func minPDropsTokensBelowTheThreshold() {
        var candidates = logits.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
        var p = SamplingParameters()
        p.topK = 0
        p.topP = 1
        p.minP = 0.3  // keep logits >= 3 + ln 0.3 = 1.796
        Sampler.filter(&candidates, parameters: p)
        #expect(candidates.map(\.id) == [3, 6, 0])
    }

    @Test func repeatPenaltyDemotesSeenTokens() {
        var p = SamplingParameters.greedy
        p.repeatPenalty = 2  // 3.0 -> 1.5, so 2.5 (id 6) wins
        #expect(Set(sampleMany(logits, p, count: 5, history: [3])) == [6])
        #expect(Set(sampleMany(logits, p, count: 5, history: [])) == [3])
    }

    @Test func invalidParametersAreRejected() {
        var p = SamplingParameters()
        p.topP = 0
        #expect(throws: SamplingError.self) { try p.validate() }
        p = SamplingParameters()
        p.temperature = -1
        #expect(throws: SamplingError.self) { try p.validate() }
    }

    @Test func topKSelectionMatchesAFullSort() {
        var rng = SeededGenerator(seed: 9)
        let many = (0..<5000).map { _ in Float(rng.nextUnit() * 20 - 10) }
        var candidates = many.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
        var p = SamplingParameters()
        p.topK = 40
        p.topP = 1
        p.minP = 0
        Sampler.filter(&candidates, parameters: p)
        let expected = many.enumerated().sorted { $0.element > $1.element }.prefix(40).map(\.offset)
        #expect(candidates.map(\.id) == expected)
    }
}
