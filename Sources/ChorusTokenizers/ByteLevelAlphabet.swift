/// GPT-2's reversible map between the 256 byte values and 256 printable Unicode characters.
///
/// Byte-level BPE vocabularies store tokens in this alphabet (a space is "Ġ", a newline "Ċ"), so that
/// every token is printable text. Printable Latin-1 bytes map to themselves; the other 68 bytes map, in
/// order, to U+0100 onwards (llama.cpp `unicode_byte_to_utf8_map`).
enum ByteLevelAlphabet {
    /// The character for each byte value.
    static let characterForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0 ..< 256 {
            if isPrintedAsItself(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The UTF-8 encoding of each byte's character.
    static let utf8ForByte: [[UInt8]] = characterForByte.map { Array(String($0).utf8) }

    /// The byte a character stands for, or nil for characters outside the alphabet.
    static func byte(for scalar: UInt32) -> UInt8? {
        if scalar < 256 { return isPrintedAsItself(Int(scalar)) ? UInt8(scalar) : nil }
        let index = Int(scalar) - 256
        guard index >= 0, index < remappedBytes.count else { return nil }
        return remappedBytes[index]
    }

    /// Bytes that are not printed as themselves, in the order they take U+0100, U+0101, ...
    private static let remappedBytes: [UInt8] = (0 ..< 256).filter { !isPrintedAsItself($0) }.map { UInt8($0) }

    private static func isPrintedAsItself(_ byte: Int) -> Bool {
        (0x21 ... 0x7E).contains(byte) || (0xA1 ... 0xAC).contains(byte) || (0xAE ... 0xFF).contains(byte)
    }
}
