import ChorusSpeculative
import Foundation

/// The plain sampler's distribution as a `TokenPolicy`: top-k, top-p and min-p on the logits, then
/// a softmax at the temperature, computed exactly as `Sampler.sample` computes the weights it draws
/// from (and in the same order, so the same uniform picks the same token). Speculative sampling
/// verifies against it, so its output has the law of plain sampling with these parameters.
public struct SamplerPolicy: TokenPolicy {
    public let parameters: SamplingParameters

    /// - Precondition: sampling (temperature > 0) without repeat penalty (a penalty depends on the
    ///   history, which differs per tree node).
    public init(_ parameters: SamplingParameters) {
        precondition(!parameters.isGreedy && parameters.repeatPenalty == 1)
        self.parameters = parameters
    }

    public func distribution(_ logits: UnsafeBufferPointer<Float>) -> TokenDistribution {
        var candidates = Sampler.penalised(logits, history: [], penalty: 1, lastN: 0)
        Sampler.filter(&candidates, parameters: parameters)
        let maxLogit = candidates[0].logit
        let weights = candidates.map { Double(expf(($0.logit - maxLogit) / parameters.temperature)) }
        return TokenDistribution(ids: candidates.map(\.id), weights: weights)
    }
}
