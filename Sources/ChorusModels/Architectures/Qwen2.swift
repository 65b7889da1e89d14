import ChorusGGUF
import ChorusKernels

/// Qwen2: Llama's blocks with biases on the Q, K and V projections and NeoX-style RoPE.
enum Qwen2: ArchitectureDefinition {
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig {
        try ModelConfig(common: metadata, architecture: .qwen2)
    }

    static func blocks(_ weights: WeightLoader) throws -> ModelBlocks {
        let rope = weights.config.rope(layout: .neox)
        return try ModelBlocks(weights, embedding: Embedding(weights), head: OutputHead(weights)) { layer in
            [try Attention(weights, layer: layer, rope: rope, options: .init(biases: true)),
             try FeedForward(weights, layer: layer, activation: .silu)]
        }
    }
}
