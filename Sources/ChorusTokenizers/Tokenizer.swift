/// A text tokenizer read from a GGUF file, reproducing llama.cpp's `llama_vocab` token for token.
///
/// Token ids are `Int` everywhere in the public API; they index the vocabulary stored in the GGUF file.
/// Implementations are immutable and `Sendable`: one instance may be shared by any number of threads.
public protocol Tokenizer: Sendable {
    /// Number of entries in the vocabulary (`tokenizer.ggml.tokens`).
    var vocabularySize: Int { get }
    /// Beginning-of-sequence token, if the vocabulary has one.
    var bosID: Int? { get }
    /// End-of-sequence token, if the vocabulary has one.
    var eosID: Int? { get }
    /// Whether encode(addSpecial: true) prepends BOS (from tokenizer.ggml.add_bos_token, else llama.cpp's default for the tokenizer type).
    var addsBOS: Bool { get }
    /// Tokens that end generation, as llama.cpp's llama_vocab::is_eog (eos, eot, eom, <|im_end|>, <|endoftext|>, <end_of_turn>, ...).
    var endOfGenerationIDs: Set<Int> { get }
    /// Splits `text` into token ids.
    ///
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS as the model asks (llama.cpp `add_special`).
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text
    ///     (llama.cpp `parse_special`); user-defined tokens are always recognised, as in llama.cpp.
    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int]
    /// The bytes a token stands for when printed (control tokens: empty unless renderSpecial).
    func pieceBytes(_ id: Int, renderSpecial: Bool) -> [UInt8]
    /// The bytes of `ids` as llama.cpp's `llama_detokenize`: `removeSpecial` drops the BOS/EOS that
    /// encode(addSpecial: true) adds, `renderSpecial` prints control tokens' text. With the flags matching
    /// encode's, gives the text back wherever llama.cpp's does.
    func detokenize(_ ids: [Int], removeSpecial: Bool, renderSpecial: Bool) -> [UInt8]
    /// Concatenates the pieces of `ids` as llama.cpp's `llama_detokenize` (no special-token removal),
    /// replacing invalid UTF-8 with U+FFFD.
    func decode(_ ids: [Int], renderSpecial: Bool) -> String
    /// The token's text as stored in the vocabulary (for debugging / logprob output).
    func tokenText(_ id: Int) -> String
}
