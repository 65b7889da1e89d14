/// The token table and special-token settings of a GGUF model, after llama.cpp's load-time fix-ups.
///
/// Immutable once built (by `TokenizerLoader`); shared by the encoders and the detokenizer.
struct Vocabulary: Sendable {
    /// llama.cpp's `llama_vocab_type` for the models Chorus supports.
    enum Kind: Sendable {
        /// `tokenizer.ggml.model` = gpt2 (byte-level BPE with merges) or gemma4 (BPE on raw UTF-8).
        case bytePairEncoding
        /// `tokenizer.ggml.model` = llama: SentencePiece BPE with scores and `<0xXX>` byte fallback.
        case sentencePiece
        /// `tokenizer.ggml.model` = bert: WordPiece.
        case wordPiece
        /// `tokenizer.ggml.model` = t5: SentencePiece unigram.
        case unigram
    }

    let kind: Kind
    /// Token texts; the index of a text is its token id.
    let texts: ByteStringTable
    let scores: [Float]
    let attributes: [TokenAttributes]

    let bos: Int?
    let eos: Int?
    let unknown: Int?
    let addBOS: Bool
    let addEOS: Bool
    /// SentencePiece: put a space before text that starts the input or follows a special token (unigram:
    /// before the first word of each text fragment); the detokenizer drops it again.
    let addSpacePrefix: Bool
    /// Spaces are stored as "▁" (U+2581) in token texts.
    let escapeWhitespaces: Bool
    /// Detokenizer cleanup of spaces before punctuation and contractions.
    let cleanSpaces: Bool
    let endOfGeneration: Set<Int>
    /// Control, user-defined and unknown tokens, longest text first: the order in which
    /// llama.cpp's `tokenizer_st_partition` looks for them in the input.
    let specialTokens: [Int]

    var count: Int { texts.count }

    /// The id of the token whose text is exactly `bytes`.
    @inline(__always)
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        texts.index(of: bytes)
    }

    func id(of bytes: [UInt8]) -> Int? {
        texts.index(of: bytes)
    }

    /// The stored text of token `id`.
    func text(of id: Int) -> ArraySlice<UInt8> {
        texts.key(at: id)
    }

    func isValid(_ id: Int) -> Bool { id >= 0 && id < count }
}
