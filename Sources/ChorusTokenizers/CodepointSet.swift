/// A set of codepoints given as ranges, for the character classes of pre-tokenizer regexes that list
/// codepoints literally (llama.cpp runs those with `std::wregex` on the codepoints, after replacing every
/// non-ASCII whitespace codepoint with U+000B).
struct CodepointSet: Sendable {
    /// Sorted and disjoint.
    private let ranges: [ClosedRange<UInt32>]

    /// The union of `ranges` (which may overlap, as `ࠀ-一` and `一-龥` do).
    init(_ ranges: [ClosedRange<UInt32>]) {
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound ... max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
    }

    /// Whether the regex's class matches `codepoint` as std::wregex sees it: a non-ASCII whitespace
    /// codepoint is U+000B there.
    @inline(__always)
    func matches(_ codepoint: UInt32, _ flags: CodepointClass) -> Bool {
        contains(codepoint > 0x7F && flags.contains(.whitespace) ? 0x0B : codepoint)
    }

    func contains(_ codepoint: UInt32) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < codepoint { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low].contains(codepoint)
    }
}

/// The literal classes of llama.cpp's `deepseek-llm` and `deepseek-coder` regexes (`llama-vocab.cpp`),
/// transcribed range for range.
extension CodepointSet {
    /// `[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]` (deepseek-llm's letters: cased scripts).
    static let deepSeekLetters = CodepointSet([
        0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF, 0x1C4...0x293,
        0x295...0x2AF, 0x370...0x373, 0x376...0x376, 0x377...0x377, 0x37B...0x37D, 0x37F...0x37F, 0x386...0x386,
        0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481, 0x48A...0x52F, 0x531...0x556,
        0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA, 0x1CBD...0x1CBF, 0x1D00...0x1D2B,
        0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15, 0x1F18...0x1F1D, 0x1F20...0x1F45, 0x1F48...0x1F4D,
        0x1F50...0x1F57, 0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D, 0x1F5F...0x1F7D, 0x1F80...0x1FB4,
        0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC, 0x1FD0...0x1FD3, 0x1FD6...0x1FDB,
        0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102, 0x2107...0x2107, 0x210A...0x2113,
        0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126, 0x2128...0x2128, 0x212A...0x212D,
        0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F, 0x2145...0x2149, 0x214E...0x214E, 0x2183...0x2183,
        0x2184...0x2184, 0x2C00...0x2C7B, 0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF2, 0x2CF3...0x2CF3,
        0xA640...0xA66D, 0xA680...0xA69B, 0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF,
        0xFB00...0xFB06, 0xFB13...0xFB17, 0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3,
        0x104D8...0x104FB, 0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943
    ])

    /// `[!-/:-~！-／：-～‘-‟　-。]` (deepseek-llm's punctuation: printable ASCII from `!`, fullwidth forms,
    /// quotation marks, ideographic space to full stop).
    static let deepSeekPunctuation = CodepointSet([
        0x21...0x2F, 0x3A...0x7E, 0xFF01...0xFF0F, 0xFF1A...0xFF5E, 0x2018...0x201F, 0x3000...0x3002
    ])

    /// `[一-龥ࠀ-一가-퟿]` (both DeepSeek pre-tokenizers: CJK ideographs, U+0800 to U+4E00, Hangul).
    static let cjkAndHangul = CodepointSet([
        0x4E00...0x9FA5, 0x800...0x4E00, 0xAC00...0xD7FF
    ])
}
