import ChorusGGUF
import ChorusKernels

/// Gemma 3: embeddings scaled by sqrt(d_model); attention with per-head RMSNorm on Q and K, NeoX
/// RoPE, Q scaled by 1/sqrt(key_length) after RoPE instead of scaled scores, and a norm on its
/// output; a GELU(tanh)-gated feed-forward with a norm on its output; sliding-window local layers
/// interleaved with global ones (every sixth layer global), local layers with their own RoPE base
/// and no frequency scaling.
enum Gemma3: ArchitectureDefinition {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        var config = try ModelConfig(common: metadata, architecture: .gemma3)
        config.normEpsilon = try metadata.float("gemma3.attention.layer_norm_rms_epsilon", default: 1e-6)
        config.ropeBase = try metadata.float("gemma3.rope.freq_base", default: 1_000_000)
        return config
    }

    static func blocks(_ weights: WeightLoader) throws -> ModelBlocks {
        let c = weights.config
        let window = try weights.metadata.int("gemma3.attention.sliding_window", default: 512)
        let localBase = try weights.metadata.float("gemma3.rope.freq_base_swa", default: 10_000)
        let global = c.rope(layout: .neox)
        let local = RoPE(layout: .neox, dimensions: c.ropeDimensions, base: localBase)
        let embedding = { try Embedding(weights, scale: Float(c.embeddingLength).squareRoot()) }
        return try ModelBlocks(weights, embedding: embedding(), head: OutputHead(weights)) { layer in
            let isGlobal = (layer + 1) % 6 == 0
            let attention = Attention.Options(queryKeyNorm: true, outputNorm: true, queryScale: 1 / Float(c.headDimension).squareRoot(),
                                              scoreScale: 1, window: isGlobal ? nil : window)
            return [try Attention(weights, layer: layer, rope: isGlobal ? global : local, options: attention),
                    try FeedForward(weights, layer: layer, activation: .geluTanh, outputNorm: true)]
        }
    }
}
