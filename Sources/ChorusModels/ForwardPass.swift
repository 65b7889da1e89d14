/// Something that runs a batch through the whole model and returns its logits: a `Transformer` in
/// this process, or a driver that spreads the work over several processes (`ChorusDistributed`).
/// Generation, perplexity, benchmarks and the decoding engine go through this, so they run
/// unchanged either way.
public protocol ForwardPass: AnyObject {
    /// Writes the batch's keys/values into `cache` from `batch.firstSlot` and returns the logits of
    /// `batch.logitRows`, valid until the next call. Causal batches commit their rows
    /// (`cache.count`); tree batches leave committing to `commitTree`.
    func forward(_ batch: Batch, cache: KVCache) throws -> Logits

    /// Several sequences in one pass (continuous batching): the logits of each segment's
    /// `logitRows`, segment after segment. The default runs a single segment through `forward`
    /// and refuses more.
    func forward(segments: [Segment]) throws -> Logits

    /// Keeps the accepted nodes of a verified token tree: the tree's root is at slot `committed`
    /// and its row r at slot `committed + r`; `rows` are the accepted rows from the root's child
    /// down, which move to the slots right after the root. Afterwards `cache.count` is
    /// `committed + 1 + rows.count`. Every process holding part of the cache must do the same.
    func commitTree(rows: [Int], committed: Int, cache: KVCache) throws
}

extension ForwardPass {
    public func forward(segments: [Segment]) throws -> Logits {
        guard segments.count == 1 else {
            throw ModelError.invalidConfig("this forward pass runs one sequence at a time (\(segments.count) given)")
        }
        return try forward(segments[0].batch, cache: segments[0].cache)
    }

    public func commitTree(rows: [Int], committed: Int, cache: KVCache) throws {
        cache.keepTree(rows: rows, committed: committed)
    }
}

extension KVCache {
    /// The slot moves that keep a tree's accepted `rows` (see `ForwardPass.commitTree`), identity
    /// moves left out: none for a chain accepted in order.
    public static func treeMoves(rows: [Int], committed: Int) -> [(from: Int, to: Int)] {
        rows.enumerated().compactMap { depth, row in row == depth + 1 ? nil : (committed + row, committed + depth + 1) }
    }

    /// Moves the accepted rows of a verified tree into place and commits them with the root.
    public func keepTree(rows: [Int], committed: Int) {
        for m in Self.treeMoves(rows: rows, committed: committed) { move(slot: m.from, to: m.to) }
        count = committed + 1 + rows.count
    }
}

extension Transformer: ForwardPass {}

extension Logits {
    /// Logits stored elsewhere (received from another process): `rows` rows of `vocabularySize`.
    public init(rowsAt base: UnsafePointer<Float>, rows: Int, vocabularySize: Int) {
        self.init(base: base, rows: rows, vocabularySize: vocabularySize)
    }
}
