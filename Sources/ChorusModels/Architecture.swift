import ChorusGGUF

/// The model families Chorus runs, keyed by GGUF `general.architecture`.
public enum Architecture: String, Sendable, CaseIterable {
    case llama, qwen2, gemma3

    /// The architecture `metadata` declares.
    init(metadata: GGUFMetadata) throws {
        let name = try metadata.string("general.architecture")
        guard let architecture = Architecture(rawValue: name) else { throw ModelError.unsupportedArchitecture(name) }
        self = architecture
    }

    /// Its file in Architectures/.
    var definition: any ArchitectureDefinition.Type {
        switch self {
        case .llama: Llama.self
        case .qwen2: Qwen2.self
        case .gemma3: Gemma3.self
        }
    }
}

/// One architecture, readable in one file: how its hyper-parameters are read from GGUF metadata and
/// the sequence of blocks it is made of, with its differences from the others stated as the blocks'
/// options (biases, norms, RoPE layout, activation, windows...).
protocol ArchitectureDefinition {
    /// The hyper-parameters (`ModelConfig(common:architecture:)` and the architecture's own keys).
    static func config(_ metadata: GGUFMetadata) throws -> ModelConfig
    /// The blocks of the model part `weights` loads, composed in order.
    static func blocks(_ weights: WeightLoader) throws -> ModelBlocks
}

/// Errors raised while turning a GGUF file into a runnable model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(String)
    case invalidConfig(String)
    case badTensor(name: String, reason: String)
    case contextOverflow(needed: Int, capacity: Int)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let arch):
            return "unsupported architecture '\(arch)' (supported: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .invalidConfig(let message): return "invalid model configuration: \(message)"
        case .badTensor(let name, let reason): return "tensor '\(name)': \(reason)"
        case .contextOverflow(let needed, let capacity):
            return "sequence of \(needed) tokens does not fit the context of \(capacity) tokens"
        }
    }
}
