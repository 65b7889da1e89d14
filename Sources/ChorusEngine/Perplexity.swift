import ChorusModels
import Foundation

/// Perplexity as llama-perplexity computes it: the text's tokens cut into non-overlapping chunks of
/// `context` tokens (the first replaced by BOS when the model adds one), each evaluated from an empty
/// cache and scored on its second half (position i predicts token i+1, for i from context/2 on).
public struct Perplexity {
    public struct Result: Sendable, Codable {
        public var ppl: Double
        /// Tokens scored.
        public var tokens: Int
        public var chunks: Int
        /// Standard error of the mean negative log-likelihood, carried to PPL (llama.cpp's "+/-").
        public var uncertainty: Double
        public var seconds: Double
    }

    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// - Parameter onChunk: called after each chunk with (chunk index, running perplexity).
    public func evaluate(text: String, context: Int, onChunk: (Int, Double) -> Void = { _, _ in }) throws -> Result {
        guard context >= 4 else { throw EngineError.invalidArgument("perplexity needs a context of at least 4 tokens") }
        guard context <= model.contextLength else {
            throw EngineError.invalidArgument("--context \(context) exceeds the model's context of \(model.contextLength)")
        }
        var tokens = model.tokenize(text, addSpecial: true, parseSpecial: false)
        let chunks = tokens.count / context
        guard chunks >= 1 else {
            throw EngineError.invalidArgument("the text has \(tokens.count) tokens; perplexity needs at least \(context) (one chunk)")
        }
        let cache = model.makeCache()
        let first = context / 2
        var nll = 0.0, nll2 = 0.0
        var count = 0
        let start = ContinuousClock.now
        for chunk in 0..<chunks {
            let begin = chunk * context
            var batch = Array(tokens[begin..<begin + context])
            if model.tokenizer.addsBOS, let bos = model.tokenizer.bosID { batch[0] = bos }
            cache.trim(to: 0)
            let logits = try model.forwardPass.forward(
                Batch(tokens: batch, positions: Array(0..<context), firstSlot: 0,
                      logitRows: Array(first..<(context - 1))), cache: cache)
            for (row, i) in (first..<(context - 1)).enumerated() {
                let target = tokens[begin + i + 1]
                let v = -LogSoftmax(logits.row(row))(target)
                nll += v
                nll2 += v * v
                count += 1
            }
            onChunk(chunk, exp(nll / Double(count)))
        }
        tokens.removeAll()
        let mean = nll / Double(count)
        let variance = max(0, nll2 / Double(count) - mean * mean)
        let uncertainty = count > 1 ? exp(mean) * (variance / Double(count - 1)).squareRoot() : 0
        return Result(ppl: exp(mean), tokens: count, chunks: chunks, uncertainty: uncertainty,
                      seconds: (ContinuousClock.now - start).seconds)
    }
}
