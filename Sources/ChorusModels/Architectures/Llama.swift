import ChorusGGUF

/// Llama (and SmolLM2): RMSNorm, interleaved RoPE as GGUF stores Q/K, grouped-query attention,
/// SwiGLU FFN, output head tied to the embeddings when `output.weight` is absent.
enum Llama {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        var config = try ModelConfig(common: metadata, architecture: .llama)
        config.ropeLayout = .interleaved
        return config
    }
}
