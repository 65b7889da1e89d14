import ChorusModels

/// The control part of a message along the pipeline: what the receiving stage runs next.
///
/// Encoded as Int32s: op, rows, firstSlot, microbatch, microbatches, forward index, logit count, tree
/// rows, row offset, then the token ids (used by the first stage), the logit rows, and for a token
/// tree each tree row's position and parent row.
/// - A causal micro-batch is a run of its own: `rows` tokens at slots `firstSlot...`, logit rows
///   counted inside it.
/// - A token tree's micro-batch is rows `rowOffset..<rowOffset + rows` of the whole tree (all
///   `tokens`, `positions` and `parents` sent, the tree's root at slot `firstSlot`), logit rows
///   counted in the tree: its rows see ancestors run in earlier micro-batches.
/// - A commit carries the verified tree's accepted rows and its root's slot as `firstSlot`.
struct StageHeader: Equatable {
    enum Op: Int32 {
        /// Run `rows` rows.
        case forward = 1
        /// The run is over; pass it on and stop.
        case stop = 2
        /// Rank 0 failed; pass it on and stop with an error.
        case failed = 3
        /// Keep a verified token tree's accepted rows (`KVCache.keepTree`), its root at slot `firstSlot`.
        case commit = 4
    }

    var op: Op
    var rows = 0
    var firstSlot = 0
    var microbatch = 0
    var microbatches = 0
    var forwardIndex = 0
    var tokens: [Int] = []
    var logitRows: [Int] = []
    /// A token tree's rows: position and parent row (-1: a child of the committed prefix); empty for a causal run.
    var positions: [Int] = []
    var parents: [Int] = []
    /// A tree micro-batch's first row in the tree.
    var rowOffset = 0
    /// A commit's accepted tree rows.
    var accepted: [Int] = []

    static let fixedCount = 9

    /// Int32s a header of up to `maxRows` rows needs.
    static func capacity(maxRows: Int) -> Int { fixedCount + 4 * maxRows }

    var isTree: Bool { !parents.isEmpty }

    var encoded: [Int32] {
        let count = op == .commit ? accepted.count : rows
        let fixed = [op.rawValue, Int32(count), Int32(firstSlot), Int32(microbatch), Int32(microbatches), Int32(forwardIndex),
                     Int32(logitRows.count), Int32(parents.count), Int32(rowOffset)]
        if op == .commit { return fixed + accepted.map { Int32($0) } }
        return fixed + (tokens + logitRows + positions + parents).map { Int32($0) }
    }

    init(op: Op, rows: Int = 0, firstSlot: Int = 0, microbatch: Int = 0, microbatches: Int = 0, forwardIndex: Int = 0,
         tokens: [Int] = [], logitRows: [Int] = [], positions: [Int] = [], parents: [Int] = [], rowOffset: Int = 0) {
        self.op = op
        self.rows = rows
        self.firstSlot = firstSlot
        self.microbatch = microbatch
        self.microbatches = microbatches
        self.forwardIndex = forwardIndex
        self.tokens = tokens
        self.logitRows = logitRows
        self.positions = positions
        self.parents = parents
        self.rowOffset = rowOffset
    }

    /// A commit of a tree's `accepted` rows, its root at slot `committed`.
    static func commit(accepted: [Int], committed: Int) -> StageHeader {
        var header = StageHeader(op: .commit, firstSlot: committed)
        header.accepted = accepted
        return header
    }

    /// The micro-batch as the receiving stage runs it: the batch and its rows.
    var microbatchToRun: (batch: Batch, rows: Range<Int>) {
        guard isTree else {
            return (Batch(tokens: tokens, positions: Array(firstSlot..<firstSlot + rows), firstSlot: firstSlot, logitRows: logitRows),
                    0..<rows)
        }
        return (Batch(tokens: tokens, positions: positions, firstSlot: firstSlot, visibility: .tree(parents: parents), logitRows: logitRows),
                rowOffset..<rowOffset + rows)
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
        let treeRows = Int(words[7])
        rowOffset = Int(words[8])
        func ints(_ start: Int, _ count: Int) -> [Int] { (0..<count).map { Int(words[start + $0]) } }
        switch op {
        case .forward:
            let tokenCount = treeRows > 0 ? treeRows : rows
            let needed = Self.fixedCount + tokenCount + logitCount + 2 * treeRows
            guard rows >= 1, logitCount >= 0, logitCount <= rows, treeRows >= 0, rowOffset >= 0,
                  treeRows == 0 ? rowOffset == 0 : rowOffset + rows <= treeRows, needed <= words.count else {
                throw DistributedError.peerStopped("received a malformed pipeline message (\(rows) rows, \(logitCount) logit rows)")
            }
            tokens = ints(Self.fixedCount, tokenCount)
            logitRows = ints(Self.fixedCount + tokenCount, logitCount)
            positions = ints(Self.fixedCount + tokenCount + logitCount, treeRows)
            parents = ints(Self.fixedCount + tokenCount + logitCount + treeRows, treeRows)
        case .commit:
            guard rows >= 0, Self.fixedCount + rows <= words.count else {
                throw DistributedError.peerStopped("received a malformed commit message (\(rows) rows)")
            }
            accepted = ints(Self.fixedCount, rows)
            rows = 0
        case .stop, .failed:
            break
        }
    }
}
