/// The simple single-class regexes some pre-tokenizers run before (or after) the main one, such as
/// `\p{N}` (SmolLM/StarCoder: every digit alone) or `[\p{P}\$\+<=>\^~\|]+`.
///
/// llama.cpp runs these with `std::regex`; every match becomes a piece and so does every stretch of text
/// between matches (`unicode_regex_split_stl`).
enum IsolatingSplitter {
    /// Which codepoints the regex's character class accepts.
    ///
    /// Classes with `\p{..}` are matched by llama.cpp on a copy of the text where every non-ASCII
    /// codepoint is collapsed to one byte standing for its category, so they are exactly the category
    /// flags (plus the ASCII characters listed); classes of literal codepoints run on the codepoints.
    enum CharacterClass: Sendable {
        /// `\p{N}`
        case number
        /// `\p{L}`
        case letter
        /// `\p{P}`
        case punctuation
        /// `[\p{P}\$\+<=>\^~\|]`
        case punctuationOrOperator
        /// `[\p{P}\$\+<=>\^~\|`]` (falcon: every ASCII punctuation or symbol character)
        case punctuationOrSymbol
        /// `[0-9]`
        case asciiDigit
        /// `[\r\n]`
        case lineBreak
        /// A class of literal codepoints and ranges.
        case literal(CodepointSet)

        @inline(__always)
        func matches(_ codepoint: UInt32, _ flags: CodepointClass) -> Bool {
            switch self {
            case .number: return flags.contains(.number)
            case .letter: return flags.contains(.letter)
            case .punctuation: return flags.contains(.punctuation)
            case .punctuationOrOperator, .punctuationOrSymbol:
                if flags.contains(.punctuation) { return true }
                switch codepoint {
                case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
                case 0x60:  // `
                    if case .punctuationOrSymbol = self { return true }
                    return false
                default: return false
                }
            case .asciiDigit: return codepoint >= 0x30 && codepoint <= 0x39
            case .lineBreak: return codepoint == 0x0D || codepoint == 0x0A
            case .literal(let set): return set.matches(codepoint, flags)
            }
        }
    }

    /// Splits `fragment` at every match of `[class]{minimum,maximum}` (greedy, leftmost), keeping the
    /// text between matches as pieces too. `[c]` is (1, 1), `[c]+` is (1, .max), `[c][c][c]` is (3, 3).
    static func split(
        _ text: PreTokenizerText, _ fragment: Range<Int>, _ characterClass: CharacterClass,
        minimum: Int, maximum: Int, into collector: inout PieceCollector
    ) {
        collector.begin(at: fragment.lowerBound)
        var pos = fragment.lowerBound
        let end = fragment.upperBound
        while pos < end {
            guard characterClass.matches(text.codepoints[pos], text.classes[pos]) else {
                pos += 1
                continue
            }
            var runEnd = pos
            while runEnd < end, characterClass.matches(text.codepoints[runEnd], text.classes[runEnd]) { runEnd += 1 }
            // The run [pos, runEnd) holds as many matches as fit; a remainder shorter than `minimum` is gap text.
            var matchStart = pos
            while runEnd - matchStart >= minimum {
                let matchEnd = matchStart + min(maximum, runEnd - matchStart)
                collector.cut(at: matchStart)
                collector.cut(at: matchEnd)
                matchStart = matchEnd
            }
            pos = runEnd
        }
        collector.cut(at: end)
    }
}
