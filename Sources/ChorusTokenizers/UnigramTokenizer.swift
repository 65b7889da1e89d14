/// The `t5` tokenizer model: SentencePiece's unigram language model (llama.cpp `LLAMA_VOCAB_TYPE_UGM`;
/// T5, XLM-RoBERTa and the BERT-style embedders built on them).
///
/// Each text fragment is normalised (the precompiled character map, "▁" for spaces, a leading "▁" with
/// add_space_prefix, runs of spaces merged with remove_extra_whitespaces), then the tokenization with the
/// highest total score is found by Viterbi over the normalised bytes, one codepoint at a time. A codepoint
/// no token covers costs the lowest normal score minus 10 as the unknown token; consecutive unknowns merge.
struct UnigramTokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let specialTokenSplitter: SpecialTokenSplitter
    let charsMap: PrecompiledCharsMap?
    /// `tokenizer.ggml.remove_extra_whitespaces`.
    let removeExtraWhitespaces: Bool
    /// Normal, user-defined and unused tokens (control, unknown and byte tokens are never matched).
    let tokens: ByteTrie
    /// User-defined tokens, which normalisation leaves untouched.
    let userDefined: ByteTrie
    /// The score of an unknown codepoint.
    let unknownScore: Double

    init(vocabulary: Vocabulary, specialTokenSplitter: SpecialTokenSplitter, charsMap: PrecompiledCharsMap?,
         removeExtraWhitespaces: Bool) {
        self.vocabulary = vocabulary
        self.specialTokenSplitter = specialTokenSplitter
        self.charsMap = charsMap
        self.removeExtraWhitespaces = removeExtraWhitespaces
        var tokens = ByteTrie(), userDefined = ByteTrie()
        var minimum = Float.greatestFiniteMagnitude
        for id in 0 ..< vocabulary.count {
            let attributes = vocabulary.attributes[id]
            if attributes.contains(.normal) { minimum = min(minimum, vocabulary.scores[id]) }
            if !attributes.isDisjoint(with: [.normal, .userDefined, .unused]) { tokens.insert(vocabulary.text(of: id), value: id) }
            if attributes.contains(.userDefined) { userDefined.insert(vocabulary.text(of: id), value: id) }
        }
        self.tokens = tokens
        self.userDefined = userDefined
        unknownScore = Double(minimum - 10)
    }

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        encodeFragments(text, addSpecial: addSpecial, parseSpecial: parseSpecial, first: addedBOS, last: addedEOS) { fragment, _, output in
            normalize(fragment).withUnsafeBufferPointer { viterbi($0, into: &output) }
        }
    }

    /// llama.cpp's `llm_tokenizer_ugm_session::normalize`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let space: [UInt8] = vocabulary.escapeWhitespaces ? SentencePieceTokenizer.escapedSpace : [0x20]
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3)
        var spacePrepended = false, inWord = false
        var offset = 0
        while offset < input.count {
            let (piece, consumed) = normalizedPrefix(input, offset)
            for c in piece {
                if c != 0x20 {
                    if !inWord {
                        inWord = true
                        if (vocabulary.addSpacePrefix && !spacePrepended) || removeExtraWhitespaces {
                            output.append(contentsOf: space)
                            spacePrepended = true
                        }
                    }
                    output.append(c)
                } else {
                    inWord = false
                    if !removeExtraWhitespaces { output.append(contentsOf: space) }
                }
            }
            offset += consumed
        }
        return output
    }

    /// The normalised form of the input's next piece and how many input bytes it covers: a user-defined
    /// token as is, else the character map's longest match, else one UTF-8 character as is.
    private func normalizedPrefix(_ input: UnsafeBufferPointer<UInt8>, _ offset: Int) -> (ArraySlice<UInt8>, Int) {
        let userLength = userDefined.longestPrefix(of: input, from: offset)
        if userLength > 0 { return (ArraySlice(input[offset ..< offset + userLength]), userLength) }
        if let match = charsMap?.longestMatch(input, from: offset) { return (match.replacement, match.length) }
        let length = min(SentencePieceEncoder.utf8Length(input[offset]), input.count - offset)
        return (ArraySlice(input[offset ..< offset + length]), length)
    }

    /// Best tokenization of `text` by total score, appended to `output`.
    private func viterbi(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int]) {
        let n = text.count
        guard n > 0 else { return }
        let unknown = vocabulary.unknown ?? -1
        // best[i]: the best tokenization of text[..<i] ends with token `id` starting at `start`.
        var best = [(id: Int, start: Int, score: Double)](repeating: (unknown, 0, -.greatestFiniteMagnitude), count: n + 1)
        best[0] = (unknown, 0, 0)
        var offset = 0
        while offset < n {
            let characterLength = min(SentencePieceEncoder.utf8Length(text[offset]), n - offset)
            let current = best[offset].score
            var coversCharacter = false
            var node = ByteTrie.root
            var end = offset
            while end < n, let child = tokens.child(of: node, text[end]) {
                node = child
                end += 1
                guard let id = tokens.value(at: node) else { continue }
                if end - offset == characterLength { coversCharacter = true }
                let score = current + (vocabulary.attributes[id].contains(.userDefined) ? 0 : Double(vocabulary.scores[id]))
                if score > best[end].score { best[end] = (id, offset, score) }
            }
            if !coversCharacter {
                let score = current + unknownScore
                if score > best[offset + characterLength].score { best[offset + characterLength] = (unknown, offset, score) }
            }
            offset += characterLength
        }
        // Back from the end; consecutive unknown tokens become one.
        var reversed: [Int] = []
        var position = n
        var previousUnknown = false
        while true {
            let entry = best[position]
            let isUnknown = entry.id == unknown
            if !(previousUnknown && isUnknown) { reversed.append(entry.id) }
            if entry.start == 0 { break }
            previousUnknown = isUnknown
            position = entry.start
        }
        output.append(contentsOf: reversed.reversed())
    }
}
