import ChorusModels
import Foundation

/// Measured forward time of one transformer layer, the unit the pipeline cost model is built from.
public enum LayerTiming {
    /// Median over `repetitions` of (forward time of a `tokens`-token micro-batch) / layers, after a
    /// warm-up pass. Embedding and output head are left out: no logits are computed.
    public static func forwardSecondsPerLayer(model: LanguageModel, tokens: Int = 32, repetitions: Int = 5) throws -> Double {
        let count = min(tokens, model.contextLength)
        let cache = model.makeCache()
        let ids = (0..<count).map { $0 % model.config.vocabularySize }
        func once() throws -> Double {
            cache.trim(to: 0)
            let start = ContinuousClock.now
            _ = try model.transformer.forward(.sequence(ids, start: 0, logits: .none), cache: cache)
            return (ContinuousClock.now - start).seconds
        }
        _ = try once()
        let samples = try (0..<max(1, repetitions)).map { _ in try once() }.sorted()
        return samples[samples.count / 2] / Double(model.config.layerCount)
    }
}
