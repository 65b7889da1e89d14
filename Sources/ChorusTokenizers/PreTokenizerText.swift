/// One text fragment decoded for the pre-tokenizer scanners: its codepoints, their classes, and where
/// each codepoint starts in the UTF-8 bytes (so words can be cut from the bytes without re-encoding).
struct PreTokenizerText {
    var codepoints: [UInt32] = []
    var classes: [CodepointClass] = []
    /// `byteOffsets[i]` is the byte offset of codepoint `i`; one extra entry holds the total length.
    var byteOffsets: [Int] = []

    /// Decodes well-formed UTF-8 (Swift strings and slices cut at special-token boundaries always are).
    init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        codepoints.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var i = 0
        let n = bytes.count
        while i < n {
            let lead = bytes[i]
            var cp: UInt32
            var length: Int
            if lead < 0x80 {
                cp = UInt32(lead); length = 1
            } else if lead < 0xE0 {
                cp = UInt32(lead & 0x1F); length = 2
            } else if lead < 0xF0 {
                cp = UInt32(lead & 0x0F); length = 3
            } else {
                cp = UInt32(lead & 0x07); length = 4
            }
            if i + length > n { cp = 0xFFFD; length = n - i }  // cannot happen for valid input
            else {
                var k = 1
                while k < length { cp = (cp << 6) | UInt32(bytes[i + k] & 0x3F); k += 1 }
            }
            byteOffsets.append(i)
            codepoints.append(cp)
            classes.append(CodepointClass.of(cp))
            i += length
        }
        byteOffsets.append(n)
    }

    var count: Int { codepoints.count }

    /// The class at `position`, or no flags at all outside `fragment` (llama.cpp's `_get_flags`).
    @inline(__always)
    func classAt(_ position: Int, in fragment: Range<Int>) -> CodepointClass {
        position < fragment.upperBound && position >= fragment.lowerBound ? classes[position] : []
    }

    /// The codepoint at `position`, or `UInt32.max` outside `fragment` (llama.cpp's `OUT_OF_RANGE`).
    @inline(__always)
    func codepointAt(_ position: Int, in fragment: Range<Int>) -> UInt32 {
        position < fragment.upperBound && position >= fragment.lowerBound ? codepoints[position] : UInt32.max
    }
}

/// Collects consecutive pieces of a fragment, as llama.cpp's `_add_token` lambda: each call ends the
/// current piece at `end`, dropping empty pieces.
struct PieceCollector {
    private(set) var pieces: [Range<Int>] = []
    private var previousEnd = 0

    mutating func begin(at start: Int) { previousEnd = start }

    /// Ends the current piece at `end` and returns its length.
    @discardableResult
    mutating func cut(at end: Int) -> Int {
        let length = end - previousEnd
        if length > 0 { pieces.append(previousEnd ..< end) }
        previousEnd = end
        return length
    }

    mutating func takePieces() -> [Range<Int>] {
        defer { pieces = [] }
        return pieces
    }
}
