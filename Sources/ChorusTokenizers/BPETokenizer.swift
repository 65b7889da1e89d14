/// The `gpt2` (and `gemma4`) tokenizer model: special-token split, regex pre-tokenizer, BPE
/// (llama.cpp `LLAMA_VOCAB_TYPE_BPE`; SmolLM2, Qwen2.5, Llama 3, Gemma 4, ...).
///
/// Byte-level vocabularies merge in the GPT-2 byte alphabet; Gemma 4's stores spaces as "▁" and merges
/// raw UTF-8 (`Vocabulary.escapeWhitespaces`), so its spaces are escaped before splitting.
struct BPETokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let specialTokenSplitter: SpecialTokenSplitter
    let preTokenizer: PreTokenizer
    let encoder: BytePairEncoder

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        var scratch = BytePairEncoder.Scratch()
        var escaped: [UInt8] = []
        return encodeFragments(text, addSpecial: addSpecial, parseSpecial: parseSpecial, first: addedBOS, last: addedEOS) {
            fragment, _, output in
            if vocabulary.escapeWhitespaces {
                SentencePieceTokenizer.escapeSpaces(fragment, prefix: false, into: &escaped)
                escaped.withUnsafeBufferPointer { encode(fragment: $0, &scratch, into: &output) }
            } else {
                encode(fragment: fragment, &scratch, into: &output)
            }
        }
    }

    private func encode(fragment: UnsafeBufferPointer<UInt8>, _ scratch: inout BytePairEncoder.Scratch, into output: inout [Int]) {
        let decoded = PreTokenizerText(utf8: fragment)
        for word in preTokenizer.split(decoded) {
            let wordBytes = fragment[decoded.byteOffsets[word.lowerBound] ..< decoded.byteOffsets[word.upperBound]]
            encoder.encode(word: UnsafeBufferPointer(rebasing: wordBytes), scratch: &scratch, into: &output)
        }
    }
}
