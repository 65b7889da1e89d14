import Foundation

/// The `bert` tokenizer model: WordPiece (llama.cpp `LLAMA_VOCAB_TYPE_WPM`; BERT, BGE, ...).
///
/// Each text fragment is normalised (optionally lowercased and stripped of accents, control characters
/// dropped) and cut into words at whitespace, with every punctuation character, ASCII symbol and CJK
/// ideograph a word of its own. A word gets the "▁" of a word start and is then covered greedily from the
/// left by the longest vocabulary entries; a word that cannot be covered becomes the unknown token.
/// With `addSpecial`, [CLS] (the BOS id) comes first and [SEP] last, as in llama.cpp.
struct WordPieceTokenizer: VocabularyTokenizer {
    let vocabulary: Vocabulary
    let specialTokenSplitter: SpecialTokenSplitter
    /// `tokenizer.ggml.normalizer.lowercase` (default true).
    let lowercase: Bool
    /// `tokenizer.ggml.normalizer.strip_accents` (default: as lowercase).
    let stripAccents: Bool
    /// `tokenizer.ggml.seperator_token_id` (sic), default 102.
    let separator: Int?
    /// Longest token text in bytes: no match can be longer.
    let maxTokenLength: Int

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int] {
        encodeFragments(text, addSpecial: addSpecial, parseSpecial: parseSpecial, first: vocabulary.bos, last: separator) { fragment, _, output in
            for word in words(String(decoding: fragment, as: UTF8.self)) { encode(word: word, into: &output) }
        }
    }

    /// llama.cpp's `llm_tokenizer_wpm_session::preprocess`: normalised words, in order.
    func words(_ text: String) -> [[UInt8]] {
        var words: [[UInt8]] = [[]]
        func finishWord() { if !words[words.count - 1].isEmpty { words.append([]) } }
        for scalar in text.unicodeScalars {
            let codepoint = stripAccents ? UnicodeCase.canonicalDecompositionHead(scalar) : scalar
            let flags = CodepointClass.of(codepoint.value)
            if flags.contains(.whitespace) {
                finishWord()
                continue
            }
            if codepoint.value == 0 || codepoint.value == 0xFFFD || flags.contains(.control) { continue }
            if stripAccents, flags.contains(.mark) { continue }
            let bytes = Array(String(lowercase ? UnicodeCase.simpleLowercase(codepoint) : codepoint).utf8)
            if flags.contains(.punctuation) || (codepoint.value < 0x7F && flags.contains(.symbol)) || Self.isChinese(codepoint.value) {
                finishWord()
                words[words.count - 1] = bytes
                words.append([])
            } else {
                words[words.count - 1].append(contentsOf: bytes)
            }
        }
        if words[words.count - 1].isEmpty { words.removeLast() }
        return words
    }

    /// Longest-match-first cover of "▁" + word, or the unknown token when some position has no match.
    private func encode(word: [UInt8], into output: inout [Int]) {
        guard !word.isEmpty else { return }
        let text = [0xE2, 0x96, 0x81] + word
        let n = text.count
        let before = output.count
        text.withUnsafeBufferPointer { bytes in
            var i = 0
            while i < n {
                var match: (id: Int, end: Int)?
                var j = min(n, i + maxTokenLength + 1)
                while j > i {
                    if let id = vocabulary.id(of: UnsafeBufferPointer(rebasing: bytes[i ..< j])) {
                        match = (id, j)
                        break
                    }
                    j -= 1
                }
                guard let match else {
                    output.removeSubrange(before...)
                    return
                }
                output.append(match.id)
                i = match.end
            }
        }
        if output.count == before, let unknown = vocabulary.unknown { output.append(unknown) }
    }

    /// The CJK ranges of BERT's `_is_chinese_char` (with the Hugging Face code's 0x2B920 start of Extension E).
    static func isChinese(_ c: UInt32) -> Bool {
        (0x4E00 ... 0x9FFF).contains(c) || (0x3400 ... 0x4DBF).contains(c) || (0x20000 ... 0x2A6DF).contains(c)
            || (0x2A700 ... 0x2B73F).contains(c) || (0x2B740 ... 0x2B81F).contains(c) || (0x2B920 ... 0x2CEAF).contains(c)
            || (0xF900 ... 0xFAFF).contains(c) || (0x2F800 ... 0x2FA1F).contains(c)
    }
}

/// The per-codepoint case and decomposition maps of llama.cpp's `unicode-data.cpp` (Unicode 15.1):
/// one codepoint in, one codepoint out.
enum UnicodeCase {
    /// The simple lowercase mapping (`unicode_tolower`): the full mapping's first codepoint, which is
    /// the simple mapping wherever they differ (U+0130 İ lowercases to "i" + U+0307 in full, "i" simply).
    static func simpleLowercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.isASCII { return scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value + 0x20)! : scalar }
        guard isKnownToLlamaCpp(scalar) else { return scalar }
        return scalar.properties.lowercaseMapping.unicodeScalars.first ?? scalar
    }

    /// The first codepoint of the canonical decomposition (`unicode_cpts_normalize_nfd`, generated from
    /// `unicodedata.normalize('NFD', c)[0]`): "é" becomes "e", Hangul syllables their leading consonant.
    static func canonicalDecompositionHead(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        guard !scalar.isASCII, isKnownToLlamaCpp(scalar) else { return scalar }
        return String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars.first ?? scalar
    }

    /// Characters assigned after Unicode 15.1 have no mappings in llama.cpp's tables.
    private static func isKnownToLlamaCpp(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age <= CodepointClass.llamaCppUnicodeVersion
    }
}
