/// What every tokenizer (BPE, SentencePiece, WordPiece, unigram) shares: the vocabulary, the special-token splitter, and
/// everything about special tokens and decoding. Each only adds how a text fragment becomes tokens.
protocol VocabularyTokenizer: Tokenizer {
    var vocabulary: Vocabulary { get }
    var specialTokenSplitter: SpecialTokenSplitter { get }
}

extension VocabularyTokenizer {
    public var vocabularySize: Int { vocabulary.count }
    public var bosID: Int? { vocabulary.bos }
    public var eosID: Int? { vocabulary.eos }
    public var addsBOS: Bool { vocabulary.addBOS }
    public var endOfGenerationIDs: Set<Int> { vocabulary.endOfGeneration }

    public func pieceBytes(_ id: Int, renderSpecial: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        vocabulary.appendPiece(id, renderSpecial: renderSpecial, to: &bytes)
        return bytes
    }

    public func detokenize(_ ids: [Int], removeSpecial: Bool, renderSpecial: Bool) -> [UInt8] {
        vocabulary.detokenize(ids, removeSpecial: removeSpecial, renderSpecial: renderSpecial)
    }

    public func decode(_ ids: [Int], renderSpecial: Bool) -> String {
        String(decoding: vocabulary.detokenize(ids, renderSpecial: renderSpecial), as: UTF8.self)
    }

    /// What every encode does around its own text step: `first` (BOS, [CLS]) when adding special tokens,
    /// special tokens cut out of the text (control ones only with `parseSpecial`) and kept as they are,
    /// each text fragment through `encodeText` (told whether it follows a special token or starts the
    /// input), then `last` (EOS, [SEP]).
    func encodeFragments(
        _ text: String, addSpecial: Bool, parseSpecial: Bool, first: Int?, last: Int?,
        _ encodeText: (_ fragment: UnsafeBufferPointer<UInt8>, _ followsSpecial: Bool, _ output: inout [Int]) -> Void
    ) -> [Int] {
        var output: [Int] = []
        if addSpecial, let first { output.append(first) }
        Array(text.utf8).withUnsafeBufferPointer { bytes in
            var followsSpecial = true
            for fragment in specialTokenSplitter.split(bytes, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    followsSpecial = true
                case .text(let range):
                    encodeText(UnsafeBufferPointer(rebasing: bytes[range]), followsSpecial, &output)
                    followsSpecial = false
                }
            }
        }
        if addSpecial, let last { output.append(last) }
        return output
    }

    /// BOS when the model's metadata says to add it.
    var addedBOS: Int? { vocabulary.addBOS ? vocabulary.bos : nil }
    /// EOS when the model's metadata says to add it.
    var addedEOS: Int? { vocabulary.addEOS ? vocabulary.eos : nil }

    public func tokenText(_ id: Int) -> String {
        guard vocabulary.isValid(id) else { return "" }
        return String(decoding: vocabulary.text(of: id), as: UTF8.self)
    }
}
