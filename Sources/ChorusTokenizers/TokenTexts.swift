import ChorusGGUF

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

    /// llama.cpp's fix-ups by token text: end-of-turn, end-of-message and fill-in-the-middle tokens found
    /// by their text become control tokens, control tokens named "unused" become unused, and the
    /// end-of-generation set is gathered. Returns that set.
    static func markSpecialTokens(
        _ metadata: GGUFMetadata, tokenStrings: [String], texts: ByteStringTable, attributes: inout [TokenAttributes], eos: Int?
    ) throws -> Set<Int> {
        let n = tokenStrings.count
        func specialID(_ key: String) throws -> Int? {
            try TokenizerLoader.specialID(metadata, key, default: nil, count: n)
        }
        var eot = try specialID("tokenizer.ggml.eot_token_id")
        var eom = try specialID("tokenizer.ggml.eom_token_id")
        var fimPad = try specialID("tokenizer.ggml.fim_pad_token_id")
        var fimRepo = try specialID("tokenizer.ggml.fim_rep_token_id")
        var fimSep = try specialID("tokenizer.ggml.fim_sep_token_id")

        // llama.cpp recognises some special tokens by their text and forces them to be control tokens.
        // It walks a hash map, so when several texts qualify for one role the pick is arbitrary; we take
        // the lowest id. One pass finds every token whose text is on any of the lists.
        var idsByText: [String: [Int]] = [:]
        for (id, string) in tokenStrings.enumerated() {
            guard let first = string.utf8.first, first == UInt8(ascii: "<") || first == UInt8(ascii: "[")
                || first == UInt8(ascii: "_"), all.contains(string) else { continue }
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
        detect(&eot, endOfTurn)
        detect(&eom, endOfMessage)
        detect(&fimPad, TokenTexts.fimPad)
        detect(&fimRepo, TokenTexts.fimRepo)
        detect(&fimSep, fimSeparator)

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
        for id in ids(withTextIn: alwaysPrinted) { attributes[id] = .userDefined }
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
        return endOfGeneration
    }
}
