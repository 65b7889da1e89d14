/// Splitters for the simple regexes of the DeepSeek and Gemma 4 pre-tokenizers. Like llama.cpp's
/// `unicode_regex_split_stl`, every match becomes a piece and so does every stretch of text between
/// matches.
enum PrefixedRunSplitter {
    /// `\s?[class]+`: a run of the class, taking one whitespace codepoint just before it along
    /// (ECMAScript's greedy `?`: the space is taken whenever the class follows it).
    static func split(
        _ text: PreTokenizerText, _ fragment: Range<Int>, _ characterClass: IsolatingSplitter.CharacterClass,
        into collector: inout PieceCollector
    ) {
        collector.begin(at: fragment.lowerBound)
        let end = fragment.upperBound
        func matches(_ position: Int) -> Bool {
            position < end && characterClass.matches(text.codepoints[position], text.classes[position])
        }
        var pos = fragment.lowerBound
        while pos < end {
            var runStart = pos
            if !matches(pos) {
                guard text.classes[pos].contains(.whitespace), matches(pos + 1) else {
                    pos += 1
                    continue
                }
                runStart = pos + 1
            }
            var runEnd = runStart
            while matches(runEnd) { runEnd += 1 }
            collector.cut(at: pos)
            collector.cut(at: runEnd)
            pos = runEnd
        }
        collector.cut(at: end)
    }

    /// `\s+$`: the whitespace that ends the fragment, as its own piece.
    static func splitTrailingWhitespace(_ text: PreTokenizerText, _ fragment: Range<Int>, into collector: inout PieceCollector) {
        collector.begin(at: fragment.lowerBound)
        var start = fragment.upperBound
        while start > fragment.lowerBound, text.classes[start - 1].contains(.whitespace) { start -= 1 }
        collector.cut(at: start)
        collector.cut(at: fragment.upperBound)
    }

    /// `[^\n]+|[\n]+`: runs of newlines and runs of everything else (Gemma 4, llama.cpp's
    /// `unicode_regex_split_custom_newlines`).
    static func splitNewlineRuns(_ text: PreTokenizerText, _ fragment: Range<Int>, into collector: inout PieceCollector) {
        collector.begin(at: fragment.lowerBound)
        var pos = fragment.lowerBound
        while pos < fragment.upperBound {
            let isNewline = text.codepoints[pos] == 0x0A
            while pos < fragment.upperBound, (text.codepoints[pos] == 0x0A) == isNewline { pos += 1 }
            collector.cut(at: pos)
        }
    }
}
