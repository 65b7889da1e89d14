/// The model families Chorus runs, keyed by GGUF `general.architecture`.
public enum Architecture: String, Sendable, CaseIterable {
    case llama, qwen2, gemma3
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
