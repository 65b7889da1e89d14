/// BPE over one pre-tokenized word, as llama.cpp's `llm_tokenizer_bpe_session::tokenize`.
///
/// The word starts as one symbol per character: per byte in the GPT-2 byte alphabet for byte-level
/// vocabularies, per UTF-8 character of the raw text for Gemma 4's (llama.cpp's `byte_encode` off). The
/// adjacent pair with the lowest merge rank is merged, leftmost first among equal ranks, until no pair has
/// a rank. Each resulting symbol is emitted as its token or, when the vocabulary lacks it, byte by byte
/// (byte-level: each byte of its alphabet text that is a token by itself; raw: `<0xAB>` tokens).
///
/// Speed: symbols are interned strings (vocabulary tokens keep their ids; other merge results get ids
/// past the vocabulary), and merge ranks live in a table keyed by the pair of interned ids, so the merge
/// loop compares integers and never builds a string.
struct BytePairEncoder: Sendable {
    /// Vocabulary texts (indices 0..<vocabularySize are token ids) plus other merge parts and results.
    private let symbols: ByteStringTable
    private let vocabularySize: Int
    /// (left symbol << 32 | right symbol) -> (rank << 32 | merged symbol).
    private let merges: [UInt64: UInt64]
    /// Byte-level: the symbol of each byte's GPT-2 alphabet character. Raw: the `<0xAB>` token of each byte.
    private let byteSymbols: [Int32]
    private let byteLevel: Bool
    /// llama3: a word that is itself a token is emitted whole.
    private let ignoreMerges: Bool
    /// Gemma 4: a word of newlines only that is itself a token is emitted whole.
    private let wholeNewlineRuns: Bool
    /// The symbol of a raw character no token or merge mentions (it can only fall back to bytes).
    private var unknownSymbol: Int32 { Int32(symbols.count) }

    /// - Parameter merges: `tokenizer.ggml.merges`, "left right" in rank order.
    init(vocabulary: Vocabulary, merges mergeList: [String], byteLevel: Bool = true, ignoreMerges: Bool,
         wholeNewlineRuns: Bool = false) {
        var symbols = vocabulary.texts
        vocabularySize = vocabulary.count
        self.byteLevel = byteLevel
        self.ignoreMerges = ignoreMerges
        self.wholeNewlineRuns = wholeNewlineRuns
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(mergeList.count)
        for (rank, merge) in mergeList.enumerated() {
            var bytes = Array(merge.utf8)
            // llama.cpp splits at the first space after the first byte (`word.find(' ', 1)`).
            guard bytes.count > 1, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
            let left = symbols.insert(Array(bytes[..<space])).index
            let right = symbols.insert(Array(bytes[(space + 1)...])).index
            bytes.remove(at: space)
            let merged = symbols.insert(bytes).index
            let key = UInt64(left) << 32 | UInt64(right)
            if merges[key] == nil {  // llama.cpp's emplace keeps the first rank
                merges[key] = UInt64(rank) << 32 | UInt64(merged)
            }
        }
        if byteLevel {
            byteSymbols = ByteLevelAlphabet.utf8ForByte.map { Int32(symbols.insert($0).index) }
        } else {
            let hex = Array("0123456789ABCDEF".utf8)
            byteSymbols = (0 ..< 256).map { byte in
                let name: [UInt8] = [0x3C, 0x30, 0x78, hex[byte >> 4], hex[byte & 15], 0x3E]  // <0xAB>
                return Int32(vocabulary.id(of: name) ?? -1)
            }
        }
        self.symbols = symbols
        self.merges = merges
    }

    fileprivate struct Bigram: HeapElement {
        var rank: UInt32
        var left: Int32
        var right: Int32
        var leftSymbol: Int32
        var rightSymbol: Int32
        var merged: Int32

        static func comesFirst(_ a: Bigram, _ b: Bigram) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.left < b.left
        }
    }

    /// Reusable buffers for one `encode` call.
    struct Scratch {
        fileprivate var symbol: [Int32] = []
        /// Where each symbol's bytes start in the word; a symbol ends where the next live one starts.
        fileprivate var start: [Int32] = []
        fileprivate var previous: [Int32] = []
        fileprivate var next: [Int32] = []
        fileprivate var alive: [Bool] = []
        fileprivate var queue = BinaryHeap<Bigram>()
        fileprivate var encodedWord: [UInt8] = []
    }

    /// Appends the tokens of one word (raw UTF-8 bytes) to `output`.
    func encode(word: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, into output: inout [Int]) {
        guard !word.isEmpty else { return }
        if ignoreMerges || (wholeNewlineRuns && word.allSatisfy { $0 == 0x0A }), let id = wholeWordToken(word, &scratch) {
            output.append(id)
            return
        }
        initialSymbols(word, &scratch)
        while let bigram = scratch.queue.pop() {
            let left = Int(bigram.left), right = Int(bigram.right)
            // Skip pairs whose symbols have changed since they were queued.
            guard scratch.alive[left], scratch.alive[right],
                scratch.symbol[left] == bigram.leftSymbol, scratch.symbol[right] == bigram.rightSymbol
            else { continue }
            scratch.symbol[left] = bigram.merged
            scratch.alive[right] = false
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = Int32(left) }
            addBigram(scratch.previous[left], Int32(left), &scratch)
            addBigram(Int32(left), after, &scratch)
        }

        var i: Int32 = 0
        while i >= 0 {
            let symbol = Int(scratch.symbol[Int(i)])
            let next = scratch.next[Int(i)]
            if symbol < vocabularySize {
                output.append(symbol)
            } else if byteLevel {
                // Not a token: emit each byte of its text that is a token by itself (llama.cpp does this
                // on the alphabet-encoded text, so only ASCII-printable bytes can match).
                for byte in symbols.key(at: symbol) {
                    if let id = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1, { buffer -> Int? in
                        buffer[0] = byte
                        return symbols.index(of: UnsafeBufferPointer(buffer))
                    }), id < vocabularySize {
                        output.append(id)
                    }
                }
            } else {
                // Raw text: each byte as its `<0xAB>` token, where the vocabulary has one.
                let end = next >= 0 ? Int(scratch.start[Int(next)]) : word.count
                for byte in word[Int(scratch.start[Int(i)]) ..< end] where byteSymbols[Int(byte)] >= 0 {
                    output.append(Int(byteSymbols[Int(byte)]))
                }
            }
            i = next
        }
    }

    /// The token whose text is the whole word (in the byte alphabet for byte-level vocabularies), if any.
    private func wholeWordToken(_ word: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch) -> Int? {
        let id: Int?
        if byteLevel {
            scratch.encodedWord.removeAll(keepingCapacity: true)
            for byte in word { scratch.encodedWord.append(contentsOf: ByteLevelAlphabet.utf8ForByte[Int(byte)]) }
            id = scratch.encodedWord.withUnsafeBufferPointer { symbols.index(of: $0) }
        } else {
            id = symbols.index(of: word)
        }
        guard let id, id < vocabularySize else { return nil }
        return id
    }

    /// One symbol per character of `word`, linked in order, with every mergeable neighbour pair queued.
    private func initialSymbols(_ word: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch) {
        scratch.symbol.removeAll(keepingCapacity: true)
        scratch.start.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.alive.removeAll(keepingCapacity: true)
        scratch.queue.removeAll()
        let n = word.count
        var offset = 0
        while offset < n {
            let length = byteLevel ? 1 : min(SentencePieceEncoder.utf8Length(word[offset]), n - offset)
            let symbol = byteLevel
                ? byteSymbols[Int(word[offset])]
                : symbols.index(of: UnsafeBufferPointer(rebasing: word[offset ..< offset + length])).map(Int32.init) ?? unknownSymbol
            let index = scratch.symbol.count
            scratch.symbol.append(symbol)
            scratch.start.append(Int32(offset))
            scratch.previous.append(Int32(index - 1))
            offset += length
            scratch.next.append(offset < n ? Int32(index + 1) : -1)
            scratch.alive.append(true)
        }
        for i in 1 ..< max(scratch.symbol.count, 1) { addBigram(Int32(i - 1), Int32(i), &scratch) }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, _ scratch: inout Scratch) {
        guard left >= 0, right >= 0 else { return }
        let leftSymbol = scratch.symbol[Int(left)], rightSymbol = scratch.symbol[Int(right)]
        guard let entry = merges[UInt64(leftSymbol) << 32 | UInt64(rightSymbol)] else { return }
        scratch.queue.push(
            Bigram(rank: UInt32(entry >> 32), left: left, right: right, leftSymbol: leftSymbol,
                   rightSymbol: rightSymbol, merged: Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF)))
    }
}
