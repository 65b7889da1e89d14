/// What the BPE and SentencePiece tokenizers share: the vocabulary, the special-token splitter, and
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

    public func decode(_ ids: [Int], renderSpecial: Bool) -> String {
        String(decoding: vocabulary.detokenize(ids, renderSpecial: renderSpecial), as: UTF8.self)
    }

    public func tokenText(_ id: Int) -> String {
        guard vocabulary.isValid(id) else { return "" }
        return String(decoding: vocabulary.text(of: id), as: UTF8.self)
    }
}
