import ChorusGGUF

/// Gemma 3: embeddings scaled by sqrt(d_model), per-head RMSNorm on Q and K, norms after attention
/// and FFN, GELU(tanh)-gated FFN, sliding-window local layers interleaved with global ones (every
/// sixth layer global), local layers with their own RoPE base, attention scaled by
/// 1/sqrt(key_length).
enum Gemma3 {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        var config = try ModelConfig(common: metadata, architecture: .gemma3)
        config.ropeLayout = .neox
        config.queryKeyNorm = true
        config.postNorms = true
        config.activation = .geluTanh
        config.embeddingScale = Float(config.embeddingLength).squareRoot()
        config.normEpsilon = try metadata.float("gemma3.attention.layer_norm_rms_epsilon", default: 1e-6)
        config.ropeBase = try metadata.float("gemma3.rope.freq_base", default: 1_000_000)
        config.localRopeBase = try metadata.float("gemma3.rope.freq_base_swa", default: 10_000)
        // As llama.cpp: Q is scaled by 1/sqrt(key_length) after RoPE and the scores are not scaled.
        config.queryScale = 1 / Float(config.headDimension).squareRoot()
        config.attentionScale = 1
        let window = try metadata.int("gemma3.attention.sliding_window", default: 512)
        config.slidingWindow = (0..<config.layerCount).map { layer in (layer + 1) % 6 == 0 ? nil : window }
        return config
    }
}
