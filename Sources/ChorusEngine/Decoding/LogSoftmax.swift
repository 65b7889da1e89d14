import Foundation

/// log softmax of one row of logits, in double precision as llama.cpp's perplexity computes it:
/// log p(i) = (logit_i - max) - log sum_j exp(logit_j - max). Perplexity and the server's
/// log-probabilities both use it.
public struct LogSoftmax {
    public let logits: UnsafeBufferPointer<Float>
    public let maxLogit: Float
    /// log sum_j exp(logit_j - max).
    public let logSum: Double

    public init(_ logits: UnsafeBufferPointer<Float>) {
        self.logits = logits
        var m = -Float.infinity
        for v in logits { m = max(m, v) }
        var sum = 0.0
        for v in logits { sum += exp(Double(v - m)) }
        maxLogit = m
        logSum = log(sum)
    }

    /// log p(token).
    public func callAsFunction(_ token: Int) -> Double { Double(logits[token] - maxLogit) - logSum }
}

/// A token's log-probability under the model (before temperature), with the most likely alternatives.
public struct TokenLogprob: Sendable {
    public var id: Int
    public var logprob: Float
    public var top: [(id: Int, logprob: Float)]

    public init(id: Int, logprob: Float, top: [(id: Int, logprob: Float)]) {
        self.id = id
        self.logprob = logprob
        self.top = top
    }

    /// `token`'s log-probability in `logits`, with the `top` most likely tokens (best first).
    public init(token: Int, logits: UnsafeBufferPointer<Float>, top: Int) {
        let logSoftmax = LogSoftmax(logits)
        func lp(_ id: Int) -> Float { Float(logSoftmax(id)) }
        var best: [(id: Int, logprob: Float)] = []
        if top > 0 {
            let candidates = logits.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
            best = Sampler.topK(candidates, top).map { ($0.id, lp($0.id)) }
        }
        self.init(id: token, logprob: lp(token), top: best)
    }
}
