/// The Unicode facts llama.cpp's pre-tokenizer regexes ask about one codepoint.
///
/// llama.cpp keeps its own table (`unicode-data.cpp`, general categories plus the White_Space list);
/// we ask Swift's `Unicode.Scalar.Properties`, which encode the same Unicode data. `\p{L}` is the L*
/// categories, `\p{N}` the N* categories, `\s` the White_Space property, `\p{P}` the P* categories,
/// `\p{M}` the M* categories, `\p{S}` the S* categories; control is C* but unassigned.
///
/// llama.cpp's table was generated from Unicode 15.1, while Swift's follows a newer Unicode; a character
/// assigned after 15.1 (e.g. CJK Extension J) is unassigned to llama.cpp, so we treat it as such.
struct CodepointClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = CodepointClass(rawValue: 1 << 0)
    static let number = CodepointClass(rawValue: 1 << 1)
    static let whitespace = CodepointClass(rawValue: 1 << 2)
    static let punctuation = CodepointClass(rawValue: 1 << 3)
    /// Combining marks (accents).
    static let mark = CodepointClass(rawValue: 1 << 4)
    static let symbol = CodepointClass(rawValue: 1 << 5)
    /// Control, format, private-use and surrogate codepoints (llama.cpp's `is_control`).
    static let control = CodepointClass(rawValue: 1 << 6)
    /// Marks a position inside the fragment being scanned; positions past the end have no flags at all,
    /// as llama.cpp's `_get_flags` returns an empty flag set out of range.
    static let present = CodepointClass(rawValue: 1 << 7)

    /// Not whitespace, letter or number: the `[^\s\p{L}\p{N}]` class.
    @inline(__always) var isOther: Bool {
        rawValue & (Self.letter.rawValue | Self.number.rawValue | Self.whitespace.rawValue) == 0
            && contains(.present)
    }

    /// Classifies one codepoint (always `present`).
    @inline(__always)
    static func of(_ codepoint: UInt32) -> CodepointClass {
        if codepoint < 0x1_0000 { return CodepointClass(rawValue: basicPlane[Int(codepoint)]) }
        return compute(codepoint)
    }

    static func compute(_ codepoint: UInt32) -> CodepointClass {
        guard let scalar = Unicode.Scalar(codepoint) else { return [.present, .control] }  // surrogates (Cs)
        var result: CodepointClass = .present
        let properties = scalar.properties
        if let age = properties.age, age > llamaCppUnicodeVersion { return result }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        case .spacingMark, .nonspacingMark, .enclosingMark:
            result.insert(.mark)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            result.insert(.symbol)
        case .control, .format, .privateUse, .surrogate:
            result.insert(.control)
        default:
            break
        }
        if properties.isWhitespace { result.insert(.whitespace) }
        return result
    }

    /// The Unicode version of llama.cpp's `unicode-data.cpp` (letters added in 15.1 are letters to it,
    /// letters added in 16.0 are not).
    static let llamaCppUnicodeVersion: Unicode.Version = (major: 15, minor: 1)

    /// Flags for U+0000...U+FFFF, computed once: the scanners classify every codepoint of the input.
    static let basicPlane: [UInt8] = (0 ..< 0x1_0000).map { compute(UInt32($0)).rawValue }
}
