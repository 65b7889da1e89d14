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
        var output: [Int] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos { output.append(bos) }
        let utf8 = Array(text.utf8)
        let fragments = utf8.withUnsafeBufferPointer { specialTokenSplitter.split($0, parseSpecial: parseSpecial) }
        var previousWasSpecial = true
        var escaped: [UInt8] = []
        for fragment in fragments {
            switch fragment {
            case .token(let id):
                output.append(id)
                previousWasSpecial = true
            case .text(let range):
                escaped.removeAll(keepingCapacity: true)
                if vocabulary.addSpacePrefix, previousWasSpecial { escaped.append(contentsOf: Self.escapedSpace) }
                for byte in utf8[range] {
                    if byte == 0x20 { escaped.append(contentsOf: Self.escapedSpace) } else { escaped.append(byte) }
                }
                escaped.withUnsafeBufferPointer { encoder.encode($0, into: &output) }
                previousWasSpecial = false
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }

    /// "▁" (U+2581), SentencePiece's visible space.
    static let escapedSpace: [UInt8] = [0xE2, 0x96, 0x81]
}
