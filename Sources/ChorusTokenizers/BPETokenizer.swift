/// The `gpt2` tokenizer model: special-token split, regex pre-tokenizer, byte-level BPE
/// (llama.cpp `LLAMA_VOCAB_TYPE_BPE`; SmolLM2, Qwen2.5, Llama 3, ...).
struct BPETokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let specialTokenSplitter: SpecialTokenSplitter
    let preTokenizer: PreTokenizer
    let encoder: BytePairEncoder

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        var output: [Int] = []
        if addSpecial, vocabulary.addBOS, let bos = vocabulary.bos { output.append(bos) }
        let utf8 = Array(text.utf8)
        utf8.withUnsafeBufferPointer { bytes in
            var scratch = BytePairEncoder.Scratch()
            for fragment in specialTokenSplitter.split(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    let fragmentBytes = UnsafeBufferPointer(rebasing: bytes[range])
                    let decoded = PreTokenizerText(utf8: fragmentBytes)
                    for word in preTokenizer.split(decoded) {
                        let wordBytes = fragmentBytes[decoded.byteOffsets[word.lowerBound] ..< decoded.byteOffsets[word.upperBound]]
                        encoder.encode(word: UnsafeBufferPointer(rebasing: wordBytes), scratch: &scratch, into: &output)
                    }
                }
            }
        }
        if addSpecial, vocabulary.addEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }
}
