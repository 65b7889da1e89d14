/// Turning token ids back into bytes, as llama.cpp's `token_to_piece` and `detokenize`.
extension Vocabulary {
    /// Appends the bytes token `id` prints as. Control and unknown tokens print nothing unless
    /// `renderSpecial`; user-defined tokens print their text; normal tokens are unescaped ("▁" to space
    /// for SentencePiece, the GPT-2 byte alphabet back to bytes for BPE); `<0xAB>` tokens print one byte.
    func appendPiece(_ id: Int, renderSpecial: Bool, leftStrip: Int = 0, to output: inout [UInt8]) {
        guard isValid(id) else { return }
        let attributes = attributes[id]
        if !renderSpecial, !attributes.isDisjoint(with: [.unknown, .control]) { return }
        let text = text(of: id)
        var piece: [UInt8]
        if !attributes.isDisjoint(with: [.unknown, .control, .userDefined]) {
            piece = Array(text)
        } else if attributes.contains(.normal) {
            piece = escapeWhitespaces ? Self.unescapeWhitespace(text) : Self.decodeByteLevel(text)
        } else if attributes.contains(.byte) {
            piece = [Self.byteValue(ofByteToken: text)]
        } else {
            return  // unused and undefined tokens print nothing
        }
        var start = 0
        while start < leftStrip, start < piece.count, piece[start] == 0x20 { start += 1 }
        output.append(contentsOf: piece[start...])
    }

    /// The whole text of `ids`, as `llama_detokenize(remove_special: removeSpecial, unparse_special: renderSpecial)`:
    /// with `removeSpecial` a leading BOS and a trailing EOS the model adds are dropped; the space a
    /// SentencePiece-style tokenizer put before the first word is dropped too, unless a BOS was.
    func detokenize(_ ids: [Int], removeSpecial: Bool = false, renderSpecial: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        var removeSpace = addSpacePrefix
        var ids = ids[...]
        if removeSpecial, addBOS, let first = ids.first, first == bos {
            removeSpace = false
            ids = ids.dropFirst()
        }
        if removeSpecial, addEOS, let last = ids.last, last == eos { ids = ids.dropLast() }
        for id in ids {
            appendPiece(id, renderSpecial: renderSpecial, leftStrip: removeSpace ? 1 : 0, to: &bytes)
            removeSpace = false
        }
        return cleanSpaces ? Self.cleanUpSpaces(bytes) : bytes
    }

    /// "▁" (E2 96 81) to " ".
    static func unescapeWhitespace(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == 0xE2, i + 2 < text.endIndex, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                result.append(0x20)
                i += 3
            } else {
                result.append(text[i])
                i += 1
            }
        }
        return result
    }

    /// Maps each character of a byte-level token back to its byte (llama.cpp `llama_decode_text`,
    /// including its "[UNK_BYTE_0x..]" marker for characters outside the alphabet).
    static func decodeByteLevel(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        let string = String(decoding: text, as: UTF8.self)
        for scalar in string.unicodeScalars {
            if let byte = ByteLevelAlphabet.byte(for: scalar.value) {
                result.append(byte)
            } else {
                result.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                for byte in String(scalar).utf8 {
                    let hex = String(byte, radix: 16)
                    result.append(contentsOf: Array((hex.count < 2 ? "0" + hex : hex).utf8))
                }
                result.append(contentsOf: text)
                result.append(UInt8(ascii: "]"))
            }
        }
        return result
    }

    /// The byte of a `<0xAB>` token.
    static func byteValue(ofByteToken text: ArraySlice<UInt8>) -> UInt8 {
        guard text.count >= 5 else { return 0 }
        let hex = String(decoding: text.dropFirst(3).prefix(2), as: UTF8.self)
        return UInt8(hex, radix: 16) ?? 0
    }

    /// llama.cpp's `clean_spaces` passes: drop the space in " ?", " !", " .", " ,"; turn " ' " into "'";
    /// drop the space before "'s", "'m", "'re", "'ve".
    static func cleanUpSpaces(_ input: [UInt8]) -> [UInt8] {
        var text = input
        // Pass 1: space before ? ! . ,
        var total = text.isEmpty ? 0 : 1
        for i in 1 ..< max(text.count, 1) {
            let x = text[i]
            if text[i - 1] == 0x20, x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C { total -= 1 }
            text[total] = x
            total += 1
        }
        text.removeSubrange(total...)
        // Pass 2: " ' " -> "'"
        let total2 = text.count
        total = total2 == 0 ? 0 : 1
        var i = 1
        while i < total2 {
            let x = text[i]
            if x == 0x27, i + 1 < total2, text[i - 1] == 0x20, text[i + 1] == 0x20 {
                total -= 1
                i += 1
                text[i] = 0
            }
            text[total] = x
            total += 1
            i += 1
        }
        text.removeSubrange(total...)
        // Pass 3: " 's", " 'm", " 're", " 've"
        let total3 = text.count
        total = total3 == 0 ? 0 : 1
        for i in 1 ..< max(total3, 1) {
            let x = text[i]
            if text[i - 1] == 0x20, x == 0x27, i + 1 < total3 {
                let x1 = text[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    total -= 1
                } else if i + 2 < total3 {
                    let x2 = text[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { total -= 1 }
                }
            }
            text[total] = x
            total += 1
        }
        text.removeSubrange(total...)
        return text
    }
}
