/// Why a tokenizer could not be built from a GGUF file's metadata.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A required metadata key is absent.
    case missingKey(String)
    /// A metadata key exists but holds the wrong kind of value, or an unusable one.
    case invalidValue(key: String, reason: String)
    /// `tokenizer.ggml.model` names a tokenizer Chorus does not implement.
    case unsupportedModel(String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer Chorus does not implement.
    case unsupportedPreTokenizer(String)
    /// Two vocabulary entries have the same text (llama.cpp refuses such files too).
    case duplicateToken(text: String, firstID: Int, secondID: Int)
    /// The model asks for BOS/EOS to be added but has no such token.
    case missingSpecialToken(String)
    /// `ChatTemplate.detect` does not recognise the model's chat template.
    case unsupportedChatTemplate(String)

    public var description: String {
        switch self {
        case .missingKey(let key): return "GGUF metadata has no '\(key)'"
        case .invalidValue(let key, let reason): return "GGUF metadata '\(key)' is invalid: \(reason)"
        case .unsupportedModel(let name): return "unknown tokenizer model '\(name)' (supported: gpt2, llama, bert, t5, gemma4)"
        case .unsupportedPreTokenizer(let name): return "unknown pre-tokenizer type '\(name)'"
        case .duplicateToken(let text, let a, let b): return "duplicate token in vocabulary: '\(text)' has ids \(a) and \(b)"
        case .missingSpecialToken(let what): return what
        case .unsupportedChatTemplate(let why): return "unsupported chat template: \(why)"
        }
    }
}
