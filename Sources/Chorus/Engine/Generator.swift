import ChorusModels
import ChorusTokenizers
import Foundation

/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    case endOfGeneration = "eog", maxTokens = "length", contextFull = "context", stoppedByCaller = "stopped"
}

/// What one generation produced, with timings measured around the forward passes.
public struct GenerationResult: Sendable {
    public var promptIDs: [Int]
    public var ids: [Int]
    public var text: String
    public var stopReason: StopReason
    public var promptSeconds: Double
    public var generationSeconds: Double

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptIDs.count) / promptSeconds : 0 }
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(ids.count) / generationSeconds : 0 }
}

/// Plain autoregressive generation: prefill the prompt, then sample one token per forward pass
/// until an end-of-generation token, the token budget or the context runs out.
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
        try sampling.validate()
        guard !promptIDs.isEmpty else { throw EngineError.emptyPrompt }
        guard promptIDs.count <= cache.capacity else {
            throw EngineError.promptTooLong(tokens: promptIDs.count, context: cache.capacity)
        }
        // Reuse the cached prefix; always evaluate at least the last prompt token for its logits.
        let reused = min(cache.count, promptIDs.count - 1)
        cache.trim(to: reused)
        let clock = ContinuousClock()
        let promptStart = clock.now
        var logits = try model.forwardPass.forward(.sequence(Array(promptIDs[reused...]), start: reused), cache: cache)
        let promptSeconds = (clock.now - promptStart).seconds

        var sampler = Sampler(sampling)
        var history = promptIDs
        var ids: [Int] = []
        var decoder = StreamingDecoder(tokenizer: model.tokenizer)
        var text = ""
        var reason = StopReason.maxTokens
        let eog = model.tokenizer.endOfGenerationIDs
        let generationStart = clock.now
        while ids.count < maxTokens {
            let next = sampler.sample(logits.row(0), history: history)
            if eog.contains(next) {
                reason = .endOfGeneration
                break
            }
            ids.append(next)
            history.append(next)
            let piece = decoder.append(next)
            text += piece
            if !onToken(next, piece) {
                reason = .stoppedByCaller
                break
            }
            if ids.count == maxTokens { break }
            if cache.count >= cache.capacity {
                reason = .contextFull
                break
            }
            logits = try model.forwardPass.forward(.sequence([next], start: cache.count), cache: cache)
        }
        return GenerationResult(promptIDs: promptIDs, ids: ids, text: text, stopReason: reason,
                                promptSeconds: promptSeconds, generationSeconds: (clock.now - generationStart).seconds)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
