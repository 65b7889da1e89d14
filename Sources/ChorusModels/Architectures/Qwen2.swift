import ChorusGGUF

/// Qwen2: Llama's block with biases on the Q, K and V projections and NeoX-style RoPE.
enum Qwen2 {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        var config = try ModelConfig(common: metadata, architecture: .qwen2)
        config.ropeLayout = .neox
        config.attentionBias = true
        return config
    }
}
