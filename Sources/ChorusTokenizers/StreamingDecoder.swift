/// Turns generated tokens into text one token at a time, emitting only complete UTF-8 characters.
///
/// A character can be split across tokens (byte-fallback tokens, or byte-level BPE tokens ending inside
/// an emoji); the decoder holds back an unfinished sequence until the bytes that complete it arrive.
/// Bytes that can never form a character are emitted as U+FFFD. Control tokens print nothing, as in
/// llama-server's streamed output.
public struct StreamingDecoder: Sendable {
    private let tokenizer: any Tokenizer
    private let renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: any Tokenizer) {
        self.init(tokenizer: tokenizer, renderSpecial: false)
    }

    /// - Parameter renderSpecial: print control tokens such as `<|im_end|>` too.
    public init(tokenizer: any Tokenizer, renderSpecial: Bool) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int) -> String {
        pending.append(contentsOf: tokenizer.pieceBytes(id, renderSpecial: renderSpecial))
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Emits whatever is held back (an unfinished character becomes U+FFFD), e.g. at end of generation.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a character that could still be completed.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Look back at most 3 bytes for the lead byte of an unfinished sequence.
        var back = 1
        while back <= min(3, n) {
            let byte = bytes[n - back]
            if byte & 0xC0 != 0x80 {  // not a continuation byte
                let needed: Int
                switch byte {
                case 0xC2 ... 0xDF: needed = 2
                case 0xE0 ... 0xEF: needed = 3
                case 0xF0 ... 0xF4: needed = 4
                default: needed = 1  // ASCII or a byte that never starts a sequence
                }
                if needed > back, isValidPrefix(bytes[(n - back)...], needed: needed) { return n - back }
                return n
            }
            back += 1
        }
        return n
    }

    /// Whether `bytes` (a lead byte and continuation bytes) can still become a valid sequence,
    /// respecting UTF-8's limits on the second byte (no overlongs, surrogates, or > U+10FFFF).
    private static func isValidPrefix(_ bytes: ArraySlice<UInt8>, needed: Int) -> Bool {
        let lead = bytes[bytes.startIndex]
        if bytes.count >= 2 {
            let second = bytes[bytes.startIndex + 1]
            switch lead {
            case 0xE0: if second < 0xA0 { return false }
            case 0xED: if second > 0x9F { return false }
            case 0xF0: if second < 0x90 { return false }
            case 0xF4: if second > 0x8F { return false }
            default: break
            }
        }
        return true
    }
}
