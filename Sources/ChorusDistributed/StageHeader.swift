/// The control part of a message along the pipeline: what the receiving stage runs next.
///
/// Encoded as Int32s: op, rows, firstSlot, microbatch, microbatches, forward index, logit count,
/// then the rows' token ids (used by the first stage) and the logit rows (inside the micro-batch).
struct StageHeader: Equatable {
    enum Op: Int32 {
        /// Run `rows` rows at slots `firstSlot...`.
        case forward = 1
        /// The run is over; pass it on and stop.
        case stop = 2
        /// Rank 0 failed; pass it on and stop with an error.
        case failed = 3
    }

    var op: Op
    var rows = 0
    var firstSlot = 0
    var microbatch = 0
    var microbatches = 0
    var forwardIndex = 0
    var tokens: [Int] = []
    var logitRows: [Int] = []

    static let fixedCount = 7

    /// Int32s a header of up to `maxRows` rows needs.
    static func capacity(maxRows: Int) -> Int { fixedCount + 2 * maxRows }

    var encoded: [Int32] {
        [op.rawValue, Int32(rows), Int32(firstSlot), Int32(microbatch), Int32(microbatches), Int32(forwardIndex),
         Int32(logitRows.count)] + tokens.map { Int32($0) } + logitRows.map { Int32($0) }
    }

    init(op: Op, rows: Int = 0, firstSlot: Int = 0, microbatch: Int = 0, microbatches: Int = 0, forwardIndex: Int = 0,
         tokens: [Int] = [], logitRows: [Int] = []) {
        self.op = op
        self.rows = rows
        self.firstSlot = firstSlot
        self.microbatch = microbatch
        self.microbatches = microbatches
        self.forwardIndex = forwardIndex
        self.tokens = tokens
        self.logitRows = logitRows
    }

    /// Decodes a received header; throws on anything malformed (a peer speaking another version).
    init(decoding words: UnsafeBufferPointer<Int32>) throws {
        guard words.count >= Self.fixedCount, let op = Op(rawValue: words[0]) else {
            throw DistributedError.peerStopped("received a malformed pipeline message")
        }
        self.op = op
        rows = Int(words[1])
        firstSlot = Int(words[2])
        microbatch = Int(words[3])
        microbatches = Int(words[4])
        forwardIndex = Int(words[5])
        let logitCount = Int(words[6])
        guard op != .forward || (rows >= 1 && logitCount >= 0 && logitCount <= rows
                                 && Self.fixedCount + rows + logitCount <= words.count) else {
            throw DistributedError.peerStopped("received a malformed pipeline message (\(rows) rows, \(logitCount) logit rows)")
        }
        if op == .forward {
            tokens = (0..<rows).map { Int(words[Self.fixedCount + $0]) }
            logitRows = (0..<logitCount).map { Int(words[Self.fixedCount + rows + $0]) }
        }
    }
}
