/// Everything that can be wrong with a GGUF file, each with a message a user can act on.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notGGUF(path: String)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    case corrupt(String)
    case unknownValueType(UInt32, key: String)
    case unknownTensorType(UInt32, tensor: String)
    case missingKey(String)
    case wrongType(key: String, expected: String)
    case missingTensor(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open '\(path)': \(reason)"
        case .notGGUF(let path): return "'\(path)' is not a GGUF file (bad magic)"
        case .unsupportedVersion(let v): return "unsupported GGUF version \(v) (supported: 2, 3)"
        case .truncated(let what, let offset, let needed, let size):
            if needed == 0 { return "GGUF file is truncated: \(what) starts at offset \(offset), past the end of the \(size)-byte file" }
            return "GGUF file is truncated or corrupt: \(what) needs \(needed) bytes at offset \(offset), file has \(size)"
        case .corrupt(let message): return "corrupt GGUF file: \(message)"
        case .unknownValueType(let t, let key): return "corrupt GGUF file: unknown metadata value type \(t) for key '\(key)'"
        case .unknownTensorType(let t, let tensor): return "unknown tensor type \(t) for tensor '\(tensor)'"
        case .missingKey(let key): return "GGUF metadata lacks required key '\(key)'"
        case .wrongType(let key, let expected): return "GGUF metadata key '\(key)' is not \(expected)"
        case .missingTensor(let name): return "GGUF file lacks tensor '\(name)'"
        }
    }
}
