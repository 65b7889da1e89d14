import ChorusGGUF
import ChorusKernels

/// Llama (and SmolLM2): pre-norm blocks with RMSNorm, attention with grouped key/value heads and
/// interleaved RoPE (as GGUF stores Q and K), SwiGLU feed-forward, output head tied to the
/// embeddings when `output.weight` is absent.
enum Llama: ArchitectureDefinition {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        try ModelConfig(common: metadata, architecture: .llama)
    }

    static func blocks(_ weights: WeightLoader) throws -> ModelBlocks {
        let rope = weights.config.rope(layout: .interleaved)
        return try ModelBlocks(weights, embedding: Embedding(weights), head: OutputHead(weights)) { layer in
            [try Attention(weights, layer: layer, rope: rope), try FeedForward(weights, layer: layer, activation: .silu)]
        }
    }
}
