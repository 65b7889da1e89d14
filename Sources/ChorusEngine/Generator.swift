import ChorusModels
import ChorusSpeculative
import ChorusTokenizers
import Foundation

/// What one generation produced, with timings measured around the forward passes.
public struct GenerationResult: Sendable {
    public var promptIDs: [Int]
    public var ids: [Int]
    public var text: String
    public var stopReason: StopReason
    public var promptSeconds: Double
    public var generationSeconds: Double
    /// Speculative decoding's counts and times (zero without a drafter).
    public var statistics = SpeculativeStatistics()

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptIDs.count) / promptSeconds : 0 }
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(ids.count) / generationSeconds : 0 }
}

/// Generation through the decode loop: one sequence (plain or speculative), or several decoded
/// together in one forward pass per step (continuous batching without a server).
public struct Generator {
    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// Generate after `promptIDs`, continuing `cache` (whose first `cache.count` slots must hold a
    /// prefix of the prompt: chat turns reuse what is already there).
    ///
    /// - Parameter onToken: called with each new id and the text it completes (may be empty while a
    ///   multi-byte character is incomplete); return false to stop.
    public func generate(promptIDs: [Int], cache: KVCache, maxTokens: Int, sampling: SamplingParameters,
                         onToken: (Int, String) -> Bool = { _, _ in true }) throws -> GenerationResult {
        try run(SequenceJob(promptIDs: promptIDs, maxTokens: maxTokens, sampling: sampling), cache: cache,
                loop: DecodeLoop(model: model), onToken: onToken)
    }

    /// Generation with speculative decoding, fewer target forward passes when the drafter guesses
    /// well. Greedy: the same tokens as `generate` with greedy sampling. Sampling (temperature > 0):
    /// tokens with the law of `generate`'s sampling under the same parameters (lossless tree
    /// speculative sampling; seeded, but not the same draws as plain sampling). No repeat penalty.
    public func generateSpeculative(promptIDs: [Int], cache: KVCache, maxTokens: Int, drafter: any Drafter,
                                    shape: TreeShape, sampling: SamplingParameters = .greedy,
                                    onToken: (Int, String) -> Bool = { _, _ in true })
        throws -> (GenerationResult, SpeculativeStatistics) {
        let result = try generate(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, sampling: sampling,
                                  speculation: Speculation(drafter: drafter, shape: shape), onToken: onToken)
        return (result, result.statistics)
    }

    /// One sequence, speculating as `speculation` says (plain decoding when nil).
    public func generate(promptIDs: [Int], cache: KVCache, maxTokens: Int, sampling: SamplingParameters,
                         speculation: Speculation?, onToken: (Int, String) -> Bool = { _, _ in true }) throws -> GenerationResult {
        if speculation != nil, sampling.repeatPenalty != 1 {
            throw EngineError.invalidArgument("speculative decoding does not support a repeat penalty (it depends on each tree node's history)")
        }
        return try run(SequenceJob(promptIDs: promptIDs, maxTokens: maxTokens, sampling: sampling), cache: cache,
                       loop: DecodeLoop(model: model, speculation: speculation), onToken: onToken)
    }

    /// Several sequences decoded together: one forward pass per step over all of them (each with
    /// its own cache from `model.makeCache()`), prompts read in chunks of the rows decoding leaves,
    /// each speculating as `speculation` says. A sequence's tokens are those it gets alone (batch
    /// invariance; each sequence has its own seeded sampler).
    ///
    /// - Parameter onToken: (job index, id, text); return false to stop that sequence.
    public func generate(_ jobs: [SequenceJob], speculation: Speculation? = nil, rowBudget: Int? = nil,
                         onToken: @escaping (Int, Int, String) -> Bool = { _, _, _ in true }) throws -> [GenerationResult] {
        let loop = try DecodeLoop(model: model, speculation: speculation, rowBudget: rowBudget ?? model.maxBatch)
        let clock = ContinuousClock()
        let start = clock.now
        let sequences = try jobs.enumerated().map { index, job in
            try loop.sequence(job, cache: model.makeCache()) { id, text, _ in onToken(index, id, text) }
        }
        try loop.run(sequences)
        let seconds = (clock.now - start).seconds
        return sequences.map { result($0, promptSeconds: 0, generationSeconds: seconds) }
    }

    private func run(_ job: SequenceJob, cache: KVCache, loop: DecodeLoop,
                     onToken: (Int, String) -> Bool) throws -> GenerationResult {
        try withoutActuallyEscaping(onToken) { onToken in
            let sequence = try loop.sequence(job, cache: cache, reused: cache.count) { id, text, _ in onToken(id, text) }
            let clock = ContinuousClock()
            let start = clock.now
            while sequence.isReadingPrompt { try loop.step([sequence]) }
            if loop.speculation != nil && sequence.speculates && sequence.pending != nil { try loop.startDrafting(sequence) }
            let promptEnd = clock.now
            try loop.run([sequence])
            return result(sequence, promptSeconds: (promptEnd - start).seconds, generationSeconds: (clock.now - promptEnd).seconds)
        }
    }

    private func result(_ sequence: DecodingSequence, promptSeconds: Double, generationSeconds: Double) -> GenerationResult {
        var statistics = sequence.statistics
        statistics.generated = sequence.generated.count
        statistics.generationSeconds = generationSeconds
        return GenerationResult(promptIDs: sequence.job.promptIDs, ids: sequence.generated, text: sequence.text,
                                stopReason: sequence.stopReason ?? .maxTokens, promptSeconds: promptSeconds,
                                generationSeconds: generationSeconds, statistics: statistics)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
