/// SentencePiece-style BPE over one text fragment, as llama.cpp's `llm_tokenizer_spm_session`.
///
/// The (already space-escaped) text starts as one symbol per UTF-8 character; repeatedly the adjacent
/// pair whose concatenation is a vocabulary token with the highest score is merged (leftmost first on
/// ties). Symbols that are not tokens at the end are emitted as `<0xAB>` byte tokens (byte fallback).
///
/// Symbols are always contiguous spans of the text, so a pair's text is looked up straight from the input
/// buffer without building a string.
struct SentencePieceEncoder: Sendable {
    private let vocabulary: Vocabulary
    /// Token for each byte value: `<0xAB>`, else the one-byte text itself (llama.cpp `byte_to_token`).
    private let byteTokens: [Int?]

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0 ..< 256).map { byte in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[byte >> 4], hex[byte & 15], 0x3E]  // <0xAB>
            return vocabulary.id(of: name) ?? vocabulary.id(of: [UInt8(byte)]) ?? vocabulary.unknown
        }
    }

    private struct Bigram: HeapElement {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        static func comesFirst(_ a: Bigram, _ b: Bigram) -> Bool {
            a.score != b.score ? a.score > b.score : a.left < b.left
        }
    }

    private struct Symbol {
        var start: Int32
        var length: Int32
        var previous: Int32
        var next: Int32
    }

    /// Appends the tokens of `text` (UTF-8, spaces already escaped) to `output`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int]) {
        let n = text.count
        guard n > 0 else { return }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(n)
        var offset = 0
        while offset < n {
            let length = min(Self.utf8Length(text[offset]), n - offset)
            let index = symbols.count
            symbols.append(Symbol(start: Int32(offset), length: Int32(length), previous: Int32(index - 1),
                                  next: offset + length == n ? -1 : Int32(index + 1)))
            offset += length
        }

        var queue = BinaryHeap<Bigram>()
        func tryAddBigram(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let start = Int(symbols[Int(left)].start)
            let size = Int(symbols[Int(left)].length + symbols[Int(right)].length)
            guard let id = vocabulary.id(of: UnsafeBufferPointer(rebasing: text[start ..< start + size])) else { return }
            queue.push(Bigram(score: vocabulary.scores[id], left: left, right: right, size: Int32(size)))
        }
        for i in 1 ..< max(symbols.count, 1) { tryAddBigram(Int32(i - 1), Int32(i)) }

        while let bigram = queue.pop() {
            let left = Int(bigram.left), right = Int(bigram.right)
            // Skip pairs where either side has changed since the pair was queued.
            guard symbols[left].length != 0, symbols[right].length != 0,
                symbols[left].length + symbols[right].length == bigram.size
            else { continue }
            symbols[left].length += symbols[right].length
            symbols[right].length = 0
            symbols[left].next = symbols[right].next
            if symbols[right].next >= 0 { symbols[Int(symbols[right].next)].previous = Int32(left) }
            tryAddBigram(symbols[left].previous, Int32(left))
            tryAddBigram(Int32(left), symbols[left].next)
        }

        // Every merged symbol is a token; an unmerged character that is not a token falls back to bytes.
        var i: Int32 = 0
        while i >= 0 {
            let symbol = symbols[Int(i)]
            let span = UnsafeBufferPointer(rebasing: text[Int(symbol.start) ..< Int(symbol.start + symbol.length)])
            if let id = vocabulary.id(of: span) {
                output.append(id)
            } else {
                for byte in span {
                    if let id = byteTokens[Int(byte)] { output.append(id) }
                }
            }
            i = symbol.next
        }
    }

    /// Bytes in the UTF-8 sequence starting with `lead` (llama.cpp `unicode_len_utf8`).
    @inline(__always)
    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}
