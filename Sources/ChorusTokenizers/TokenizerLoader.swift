import ChorusGGUF

/// Builds the tokenizer a GGUF file describes, with llama.cpp's defaults and load-time fix-ups
/// (`llama_vocab::impl::load`).
public enum TokenizerLoader {
    /// Reads `tokenizer.ggml.*` from `metadata`.
    ///
    /// - Throws: `TokenizerError` when the vocabulary is missing or malformed, or the tokenizer model or
    ///   pre-tokenizer is one Chorus does not implement.
    public static func load(from metadata: GGUFMetadata) throws -> any Tokenizer {
        let model = try requiredString(metadata, "tokenizer.ggml.model")
        switch model {
        case "gpt2", "gemma4":
            // llama.cpp gives the gemma4 model its own pre-tokenizer whatever tokenizer.ggml.pre says.
            let preName = model == "gemma4" ? "gemma4" : try optionalString(metadata, "tokenizer.ggml.pre")
            guard let configuration = PreTokenizerConfiguration(name: preName) else {
                throw TokenizerError.unsupportedPreTokenizer(preName ?? "")
            }
            let defaults = VocabularyDefaults.bytePairEncoding(configuration, gemma4Model: model == "gemma4")
            let vocabulary = try loadVocabulary(metadata, defaults)
            let merges = try strings(metadata, "tokenizer.ggml.merges")
            return BPETokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                preTokenizer: PreTokenizer(family: configuration.family),
                encoder: BytePairEncoder(vocabulary: vocabulary, merges: merges, byteLevel: !configuration.sentencePieceStyle,
                                         ignoreMerges: configuration.ignoreMerges,
                                         wholeNewlineRuns: configuration.family == .gemma4))
        case "llama":
            let vocabulary = try loadVocabulary(metadata, .sentencePiece)
            return SentencePieceTokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                encoder: SentencePieceEncoder(vocabulary: vocabulary))
        case "bert":
            let vocabulary = try loadVocabulary(metadata, .wordPiece)
            let lowercase = try bool(metadata, "tokenizer.ggml.normalizer.lowercase", default: true)
            return WordPieceTokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                lowercase: lowercase,
                stripAccents: try bool(metadata, "tokenizer.ggml.normalizer.strip_accents", default: lowercase),
                separator: try specialID(metadata, "tokenizer.ggml.seperator_token_id", default: 102, count: vocabulary.count),
                maxTokenLength: (0 ..< vocabulary.count).reduce(0) { max($0, vocabulary.texts.keyLength(at: $1)) })
        case "t5":
            let vocabulary = try loadVocabulary(metadata, .unigram)
            let key = "tokenizer.ggml.precompiled_charsmap"
            let charsMap = metadata.contains(key) ? try PrecompiledCharsMap(ints(metadata, key).map { UInt8(truncatingIfNeeded: $0) }) : nil
            return UnigramTokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                charsMap: charsMap,
                removeExtraWhitespaces: try bool(metadata, "tokenizer.ggml.remove_extra_whitespaces", default: false))
        default:
            throw TokenizerError.unsupportedModel(model)
        }
    }

    // MARK: - Vocabulary

    static func loadVocabulary(_ metadata: GGUFMetadata, _ defaults: VocabularyDefaults) throws -> Vocabulary {
        let tokenStrings = try strings(metadata, "tokenizer.ggml.tokens")
        guard !tokenStrings.isEmpty else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", reason: "the vocabulary is empty")
        }
        let n = tokenStrings.count
        var texts = ByteStringTable(minimumCapacity: n)
        for (id, string) in tokenStrings.enumerated() {
            let bytes = string.isEmpty ? Array("[EMPTY_\(id)]".utf8) : Array(string.utf8)
            let (index, inserted) = texts.insert(bytes)
            guard inserted else { throw TokenizerError.duplicateToken(text: string, firstID: index, secondID: id) }
        }
        var scores = [Float](repeating: 0, count: n)
        if metadata.contains("tokenizer.ggml.scores") {
            let values = try floats(metadata, "tokenizer.ggml.scores")
            guard values.count >= n else {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.scores", reason: "\(values.count) scores for \(n) tokens")
            }
            scores = Array(values[..<n])
        }
        var attributes = [TokenAttributes](repeating: .normal, count: n)
        if metadata.contains("tokenizer.ggml.token_type") {
            let types = try ints(metadata, "tokenizer.ggml.token_type")
            guard types.count >= n else {
                throw TokenizerError.invalidValue(key: "tokenizer.ggml.token_type", reason: "\(types.count) types for \(n) tokens")
            }
            for id in 0 ..< n { attributes[id] = TokenAttributes(ggufTokenType: types[id]) }
        }

        // Special token ids: a default outside the vocabulary is dropped; a bad metadata id keeps the default.
        let bos = try specialID(metadata, "tokenizer.ggml.bos_token_id", default: defaults.bos, count: n)
        let eos = try specialID(metadata, "tokenizer.ggml.eos_token_id", default: defaults.eos, count: n)
        let unknown = try specialID(metadata, "tokenizer.ggml.unknown_token_id", default: defaults.unknown, count: n)
        var addBOS = try bool(metadata, "tokenizer.ggml.add_bos_token", default: defaults.addBOS)
        let addEOS = try bool(metadata, "tokenizer.ggml.add_eos_token", default: defaults.addEOS)
        if defaults.forcesBOS { addBOS = true }  // llama.cpp's Gemma 4 workaround
        if addBOS, bos == nil {
            throw TokenizerError.missingSpecialToken("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set")
        }
        if addEOS, eos == nil {
            throw TokenizerError.missingSpecialToken("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set")
        }
        let endOfGeneration = try TokenTexts.markSpecialTokens(
            metadata, tokenStrings: tokenStrings, texts: texts, attributes: &attributes, eos: eos)

        // Special tokens, longest text first (ties by id; llama.cpp's std::sort leaves ties unspecified).
        let specialTokens = (0 ..< n)
            .filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
            .sorted { texts.keyLength(at: $0) != texts.keyLength(at: $1) ? texts.keyLength(at: $0) > texts.keyLength(at: $1) : $0 < $1 }

        return Vocabulary(
            kind: defaults.kind, texts: texts, scores: scores, attributes: attributes,
            bos: bos, eos: eos, unknown: unknown, addBOS: addBOS, addEOS: addEOS,
            addSpacePrefix: try bool(metadata, "tokenizer.ggml.add_space_prefix", default: defaults.addSpacePrefix),
            escapeWhitespaces: defaults.escapeWhitespaces, cleanSpaces: defaults.cleanSpaces,
            endOfGeneration: endOfGeneration, specialTokens: specialTokens)
    }

    /// A special token id from `key`, else `fallback`; ids outside the vocabulary are ignored (llama.cpp
    /// drops such a default and keeps the default over such a metadata value).
    static func specialID(_ metadata: GGUFMetadata, _ key: String, default fallback: Int?, count: Int) throws -> Int? {
        var id = fallback
        if let value = id, value >= count { id = nil }
        if metadata.contains(key) {
            let value = try int(metadata, key)
            if value >= 0, value < count { id = value }
        }
        return id
    }

    // MARK: - Metadata access with tokenizer errors

    private static func wrap<T>(_ key: String, _ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch let error as TokenizerError {
            throw error
        } catch let error as GGUFError {
            if case .missingKey = error { throw TokenizerError.missingKey(key) }
            throw TokenizerError.invalidValue(key: key, reason: "\(error)")
        } catch {
            throw TokenizerError.invalidValue(key: key, reason: "\(error)")
        }
    }

    static func requiredString(_ metadata: GGUFMetadata, _ key: String) throws -> String {
        try wrap(key) { try metadata.string(key) }
    }

    static func optionalString(_ metadata: GGUFMetadata, _ key: String) throws -> String? {
        metadata.contains(key) ? try requiredString(metadata, key) : nil
    }

    static func strings(_ metadata: GGUFMetadata, _ key: String) throws -> [String] {
        try wrap(key) { try metadata.strings(key) }
    }

    static func floats(_ metadata: GGUFMetadata, _ key: String) throws -> [Float] {
        try wrap(key) { try metadata.floats(key) }
    }

    static func ints(_ metadata: GGUFMetadata, _ key: String) throws -> [Int] {
        try wrap(key) { try metadata.ints(key) }
    }

    static func int(_ metadata: GGUFMetadata, _ key: String) throws -> Int {
        try wrap(key) { try metadata.int(key) }
    }

    static func bool(_ metadata: GGUFMetadata, _ key: String, default fallback: Bool) throws -> Bool {
        try wrap(key) { try metadata.bool(key, default: fallback) }
    }
}

/// llama.cpp's per-type defaults, before the metadata overrides them (`llama_vocab::impl::load`).
struct VocabularyDefaults {
    var kind: Vocabulary.Kind
    var bos: Int?
    var eos: Int?
    var unknown: Int?
    var addBOS: Bool
    var addEOS = false
    var addSpacePrefix: Bool
    var cleanSpaces: Bool
    /// Spaces are "▁" in token texts.
    var escapeWhitespaces: Bool
    /// BOS is added whatever `tokenizer.ggml.add_bos_token` says (Gemma 4).
    var forcesBOS = false

    static func bytePairEncoding(_ configuration: PreTokenizerConfiguration, gemma4Model: Bool) -> VocabularyDefaults {
        VocabularyDefaults(
            kind: .bytePairEncoding, bos: gemma4Model ? nil : 11, eos: gemma4Model ? nil : 11, unknown: nil,
            addBOS: configuration.addBOS, addSpacePrefix: false, cleanSpaces: configuration.cleanSpaces,
            escapeWhitespaces: configuration.sentencePieceStyle, forcesBOS: configuration.family == .gemma4)
    }

    static let sentencePiece = VocabularyDefaults(
        kind: .sentencePiece, bos: 1, eos: 2, unknown: 0, addBOS: true, addSpacePrefix: true, cleanSpaces: false,
        escapeWhitespaces: true)
    static let wordPiece = VocabularyDefaults(
        kind: .wordPiece, bos: 101, eos: nil, unknown: 100, addBOS: true, addSpacePrefix: false, cleanSpaces: true,
        escapeWhitespaces: true)
    static let unigram = VocabularyDefaults(
        kind: .unigram, bos: nil, eos: 1, unknown: 2, addBOS: false, addEOS: true, addSpacePrefix: false,
        cleanSpaces: false, escapeWhitespaces: true)
}
