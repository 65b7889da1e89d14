/// The llama3-family pre-tokenizer regex, scanned by hand:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// With `maxDigits` 3 this is llama.cpp's `unicode_regex_split_custom_llama3`, with `maxDigits` 1 its
/// `unicode_regex_split_custom_qwen2` (the Qwen2 regex).
///
/// With `marks` letter runs take combining marks too and the "other" class excludes them: the Qwen 3.5
/// regex `...|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|...`
/// (llama.cpp's `unicode_regex_split_custom_qwen35`).
enum Llama3Scanner {
    static func split(
        _ text: PreTokenizerText, _ fragment: Range<Int>, maxDigits: Int, marks: Bool = false, into collector: inout PieceCollector
    ) {
        let word: CodepointClass = marks ? [.letter, .mark] : .letter
        let notOther: CodepointClass = marks ? [.whitespace, .letter, .mark, .number] : [.whitespace, .letter, .number]
        let end = fragment.upperBound
        collector.begin(at: fragment.lowerBound)
        var pos = fragment.lowerBound
        while pos < end {
            let cpt = text.codepoints[pos]
            let flags = text.classes[pos]

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if cpt == 0x27, pos + 1 < end {
                let next = asciiLower(text.codepoints[pos + 1])
                if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 {  // s t m d
                    pos += collector.cut(at: pos + 2)
                    continue
                }
                if pos + 2 < end {
                    let nextNext = asciiLower(text.codepoints[pos + 2])
                    if (next == 0x72 && nextNext == 0x65) || (next == 0x76 && nextNext == 0x65)
                        || (next == 0x6C && nextNext == 0x6C) {  // re ve ll
                        pos += collector.cut(at: pos + 3)
                        continue
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+  (with marks: [^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+)
            if !(cpt == 0x0D || cpt == 0x0A || flags.contains(.number)) {
                if !flags.isDisjoint(with: word) || !text.classAt(pos + 1, in: fragment).isDisjoint(with: word) {
                    pos += 1
                    while !text.classAt(pos, in: fragment).isDisjoint(with: word) { pos += 1 }
                    collector.cut(at: pos)
                    continue
                }
            }

            // \p{N}{1,maxDigits}
            if flags.contains(.number) {
                var start = pos
                while text.classAt(pos, in: fragment).contains(.number) {
                    pos += 1
                    if pos - start >= maxDigits {
                        collector.cut(at: pos)
                        start = pos
                    }
                }
                collector.cut(at: pos)
                continue
            }

            // <space>?[^\s\p{L}\p{N}]+[\r\n]*  (with marks: [^\s\p{L}\p{M}\p{N}])
            let flags2 = cpt == 0x20 ? text.classAt(pos + 1, in: fragment) : flags
            if flags2.isDisjoint(with: notOther) {
                if cpt == 0x20 { pos += 1 }
                while true {
                    let next = text.classAt(pos, in: fragment)
                    guard next.contains(.present), next.isDisjoint(with: notOther) else { break }
                    pos += 1
                }
                var cpt2 = text.codepointAt(pos, in: fragment)
                while cpt2 == 0x0D || cpt2 == 0x0A {
                    pos += 1
                    cpt2 = text.codepointAt(pos, in: fragment)
                }
                collector.cut(at: pos)
                continue
            }

            var whitespaceCount = 0
            var endOfLastNewline = -1
            while text.classAt(pos + whitespaceCount, in: fragment).contains(.whitespace) {
                let cpt2 = text.codepoints[pos + whitespaceCount]
                if cpt2 == 0x0D || cpt2 == 0x0A { endOfLastNewline = pos + whitespaceCount + 1 }
                whitespaceCount += 1
            }
            // \s*[\r\n]+
            if endOfLastNewline >= 0 {
                pos = endOfLastNewline
                collector.cut(at: pos)
                continue
            }
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
            pos += 1
            collector.cut(at: pos)
        }
    }

    @inline(__always)
    private static func asciiLower(_ c: UInt32) -> UInt32 {
        c >= 0x41 && c <= 0x5A ? c + 0x20 : c
    }
}
