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
        let preName = try optionalString(metadata, "tokenizer.ggml.pre")
        switch model {
        case "gpt2":
            guard let configuration = PreTokenizerConfiguration(name: preName) else {
                throw TokenizerError.unsupportedPreTokenizer(preName ?? "")
            }
            let vocabulary = try loadVocabulary(metadata, kind: .bytePairEncoding, preTokenizer: configuration)
            let merges = try strings(metadata, "tokenizer.ggml.merges")
            return BPETokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                preTokenizer: PreTokenizer(family: configuration.family),
                encoder: BytePairEncoder(vocabulary: vocabulary, merges: merges, ignoreMerges: configuration.ignoreMerges))
        case "llama":
            let vocabulary = try loadVocabulary(metadata, kind: .sentencePiece, preTokenizer: nil)
            return SentencePieceTokenizer(
                vocabulary: vocabulary,
                specialTokenSplitter: SpecialTokenSplitter(vocabulary: vocabulary),
                encoder: SentencePieceEncoder(vocabulary: vocabulary))
        default:
            throw TokenizerError.unsupportedModel(model)
        }
    }

    // MARK: - Vocabulary

    static func loadVocabulary(
        _ metadata: GGUFMetadata, kind: Vocabulary.Kind, preTokenizer: PreTokenizerConfiguration?
    ) throws -> Vocabulary {
        // Defaults per tokenizer type, before metadata overrides them.
        var bos: Int?, eos: Int?, unknown: Int?
        var addBOS: Bool, addEOS = false, addSpacePrefix: Bool, cleanSpaces: Bool, escapeWhitespaces: Bool
        switch kind {
        case .sentencePiece:
            bos = 1; eos = 2; unknown = 0
            addBOS = true; addSpacePrefix = true; cleanSpaces = false; escapeWhitespaces = true
        case .bytePairEncoding:
            bos = 11; eos = 11; unknown = nil
            addBOS = preTokenizer?.addBOS ?? false; addSpacePrefix = false
            cleanSpaces = preTokenizer?.cleanSpaces ?? true; escapeWhitespaces = false
        }
        addSpacePrefix = try bool(metadata, "tokenizer.ggml.add_space_prefix", default: addSpacePrefix)

        // Token texts, scores, types.
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
        func specialID(_ key: String, _ fallback: Int?) throws -> Int? {
            var id = fallback
            if let value = id, value >= n { id = nil }
            if metadata.contains(key) {
                let value = try int(metadata, key)
                if value >= 0, value < n { id = value }
            }
            return id
        }
        bos = try specialID("tokenizer.ggml.bos_token_id", bos)
        eos = try specialID("tokenizer.ggml.eos_token_id", eos)
        unknown = try specialID("tokenizer.ggml.unknown_token_id", unknown)
        var eot = try specialID("tokenizer.ggml.eot_token_id", nil)
        var eom = try specialID("tokenizer.ggml.eom_token_id", nil)
        var fimPad = try specialID("tokenizer.ggml.fim_pad_token_id", nil)
        var fimRepo = try specialID("tokenizer.ggml.fim_rep_token_id", nil)
        var fimSep = try specialID("tokenizer.ggml.fim_sep_token_id", nil)

        addBOS = try bool(metadata, "tokenizer.ggml.add_bos_token", default: addBOS)
        addEOS = try bool(metadata, "tokenizer.ggml.add_eos_token", default: addEOS)
        if addBOS, bos == nil {
            throw TokenizerError.missingSpecialToken("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set")
        }
        if addEOS, eos == nil {
            throw TokenizerError.missingSpecialToken("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set")
        }

        // llama.cpp recognises some special tokens by their text and forces them to be control tokens.
        // It walks a hash map, so when several texts qualify for one role the pick is arbitrary; we take
        // the lowest id. One pass finds every token whose text is on any of the lists.
        var idsByText: [String: [Int]] = [:]
        for (id, string) in tokenStrings.enumerated() {
            guard let first = string.utf8.first, first == UInt8(ascii: "<") || first == UInt8(ascii: "[")
                || first == UInt8(ascii: "_"), TokenTexts.all.contains(string) else { continue }
            idsByText[string, default: []].append(id)
        }
        func ids(withTextIn candidates: Set<String>) -> [Int] {
            candidates.flatMap { idsByText[$0] ?? [] }.sorted()
        }
        func detect(_ current: inout Int?, _ candidates: Set<String>) {
            guard current == nil, let id = ids(withTextIn: candidates).first else { return }
            current = id
            attributes[id].insert(.control)
        }
        detect(&eot, TokenTexts.endOfTurn)
        detect(&eom, TokenTexts.endOfMessage)
        detect(&fimPad, TokenTexts.fimPad)
        detect(&fimRepo, TokenTexts.fimRepo)
        detect(&fimSep, TokenTexts.fimSeparator)

        // Control tokens named "unused" are unused.
        for id in 0 ..< n where attributes[id].contains(.control) && tokenStrings[id].contains("unused") {
            attributes[id].insert(.unused)
        }

        // End-of-generation tokens.
        var endOfGeneration = Set([fimPad, fimRepo, fimSep].compactMap { $0 })
        for id in ids(withTextIn: TokenTexts.endOfGeneration) {
            endOfGeneration.insert(id)
            attributes[id].insert(.control)
        }
        // gpt-oss: these are always printed.
        for id in ids(withTextIn: TokenTexts.alwaysPrinted) { attributes[id] = .userDefined }
        for id in [eos, eot, eom].compactMap({ $0 }) { endOfGeneration.insert(id) }
        func textOf(_ id: Int) -> String { String(decoding: texts.key(at: id), as: UTF8.self) }
        // o200k_harmony / solar-open: "<|end|>" is not end of generation when "<|return|>"/"<|call|>" exist.
        let eogTexts = Set(endOfGeneration.map(textOf))
        if (eogTexts.contains("<|return|>") && eogTexts.contains("<|call|>"))
            || (eogTexts.contains("<|calls|>") && eogTexts.contains("<|flush|>")),
            let end = endOfGeneration.first(where: { textOf($0) == "<|end|>" }) {
            endOfGeneration.remove(end)
            attributes[end] = .userDefined
        }
        // gemma4 / paddleocr: "</s>" is not end of generation when "<|tool_response>" exists.
        if eogTexts.contains("<|tool_response>"), let s = endOfGeneration.first(where: { textOf($0) == "</s>" }) {
            endOfGeneration.remove(s)
            attributes[s] = .normal
        }

        // Special tokens, longest text first (ties by id; llama.cpp's std::sort leaves ties unspecified).
        let specialTokens = (0 ..< n)
            .filter { !attributes[$0].isDisjoint(with: [.control, .userDefined, .unknown]) }
            .sorted { texts.keyLength(at: $0) != texts.keyLength(at: $1) ? texts.keyLength(at: $0) > texts.keyLength(at: $1) : $0 < $1 }

        return Vocabulary(
            kind: kind, texts: texts, scores: scores, attributes: attributes,
            bos: bos, eos: eos, unknown: unknown, addBOS: addBOS, addEOS: addEOS,
            addSpacePrefix: addSpacePrefix, escapeWhitespaces: escapeWhitespaces, cleanSpaces: cleanSpaces,
            endOfGeneration: endOfGeneration, specialTokens: specialTokens)
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

/// Token texts llama.cpp treats specially regardless of the token type stored in the file.
enum TokenTexts {
    static let endOfTurn: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    static let endOfMessage: Set<String> = ["<|eom_id|>"]
    static let fimPad: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimSeparator: Set<String> = ["<|file_sep|>"]
    static let alwaysPrinted: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]
    static let fimRepo: Set<String> = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let endOfGeneration: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]
    static let all = endOfTurn.union(endOfMessage).union(fimPad).union(fimRepo).union(fimSeparator)
        .union(endOfGeneration).union(alwaysPrinted)
}
