/// The GPT-2 pre-tokenizer regex, scanned by hand exactly as llama.cpp's `unicode_regex_split_custom_gpt2`:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// Contractions are case-sensitive here (unlike the llama3 family).
enum GPT2Scanner {
    static func split(_ text: PreTokenizerText, _ fragment: Range<Int>, into collector: inout PieceCollector) {
        let end = fragment.upperBound
        collector.begin(at: fragment.lowerBound)
        var pos = fragment.lowerBound
        while pos < end {
            let cpt = text.codepoints[pos]
            let flags = text.classes[pos]

            // 's|'t|'re|'ve|'m|'ll|'d
            if cpt == 0x27, pos + 1 < end {
                let next = text.codepoints[pos + 1]
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {  // s t m d
                    pos += collector.cut(at: pos + 2)
                    continue
                }
                if pos + 2 < end {
                    let nextNext = text.codepoints[pos + 2]
                    if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                        || (next == 0x6C && nextNext == 0x6C) {  // re ve ll
                        pos += collector.cut(at: pos + 3)
                        continue
                    }
                }
            }

            let isSpace = cpt == 0x20
            let flags2 = isSpace ? text.classAt(pos + 1, in: fragment) : flags
            // <space>?\p{L}+
            if flags2.contains(.letter) {
                if isSpace { pos += 1 }
                while text.classAt(pos, in: fragment).contains(.letter) { pos += 1 }
                collector.cut(at: pos)
                continue
            }
            // <space>?\p{N}+
            if flags2.contains(.number) {
                if isSpace { pos += 1 }
                while text.classAt(pos, in: fragment).contains(.number) { pos += 1 }
                collector.cut(at: pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+
            if flags2.isOther {
                if isSpace { pos += 1 }
                while text.classAt(pos, in: fragment).isOther { pos += 1 }
                collector.cut(at: pos)
                continue
            }

            var whitespaceCount = 0
            while text.classAt(pos + whitespaceCount, in: fragment).contains(.whitespace) { whitespaceCount += 1 }
            // \s+(?!\S)
            if whitespaceCount > 1, pos + whitespaceCount < end {
                pos += whitespaceCount - 1
                collector.cut(at: pos)
                continue
            }
            // \s+
            if whitespaceCount > 0 {
                pos += whitespaceCount
                collector.cut(at: pos)
                continue
            }
            // no match
            pos += 1
            collector.cut(at: pos)
        }
    }
}
