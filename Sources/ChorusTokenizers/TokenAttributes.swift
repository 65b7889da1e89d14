/// Per-token attributes, as llama.cpp's `llama_token_attr` bit set.
///
/// GGUF stores a token *type* (`tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control,
/// 4 user-defined, 5 unused, 6 byte); llama.cpp turns it into these bits and then patches some by
/// token text (EOG-looking tokens become control, control tokens named "unused" become unused).
/// Keeping the bits rather than the type lets us reproduce those patches exactly.
struct TokenAttributes: OptionSet, Sendable, Hashable {
    let rawValue: UInt16

    static let undefined = TokenAttributes([])
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    /// Special tokens such as `<|im_start|>`: only recognised in text with parse_special, printed only on request.
    static let control = TokenAttributes(rawValue: 1 << 3)
    /// Added tokens that are always matched verbatim in input text (Gemma's `<table>`, runs of spaces).
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    /// `<0xAB>` byte-fallback tokens.
    static let byte = TokenAttributes(rawValue: 1 << 5)
    static let normalized = TokenAttributes(rawValue: 1 << 6)
    static let leftStrip = TokenAttributes(rawValue: 1 << 7)
    static let rightStrip = TokenAttributes(rawValue: 1 << 8)
    static let singleWord = TokenAttributes(rawValue: 1 << 9)

    /// llama.cpp's mapping from the GGUF token type.
    init(ggufTokenType type: Int) {
        switch type {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }

    init(rawValue: UInt16) { self.rawValue = rawValue }
}
