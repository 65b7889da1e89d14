/// The `llama` tokenizer model: special-token split, then SentencePiece BPE with scores and byte
/// fallback on each text fragment (llama.cpp `LLAMA_VOCAB_TYPE_SPM`; Gemma 3, Llama 2, ...).
///
/// Spaces become "▁" before merging. With `tokenizer.ggml.add_space_prefix` (llama.cpp's default for
/// this model type; Gemma 3 turns it off) a space is put before the first fragment and before every
/// fragment that follows a special token.
struct SentencePieceTokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let specialTokenSplitter: SpecialTokenSplitter
    let encoder: SentencePieceEncoder

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        var escaped: [UInt8] = []
        return encodeFragments(text, addSpecial: addSpecial, parseSpecial: parseSpecial, first: addedBOS, last: addedEOS) {
            fragment, followsSpecial, output in
            Self.escapeSpaces(fragment, prefix: vocabulary.addSpacePrefix && followsSpecial, into: &escaped)
            escaped.withUnsafeBufferPointer { encoder.encode($0, into: &output) }
        }
    }

    /// "▁" (U+2581), SentencePiece's visible space.
    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]

    /// `text` with every space as "▁" (and one more in front with `prefix`), into `escaped` (emptied first).
    static func escapeSpaces(_ text: UnsafeBufferPointer<UInt8>, prefix: Bool, into escaped: inout [UInt8]) {
        escaped.removeAll(keepingCapacity: true)
        if prefix { escaped.append(contentsOf: escapedSpace) }
        for byte in text {
            if byte == 0x20 { escaped.append(contentsOf: escapedSpace) } else { escaped.append(byte) }
        }
    }
}
