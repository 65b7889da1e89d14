import ChorusKernels
import ChorusRuntime

/// One sequence's share of a multi-sequence forward pass: its rows and the KV cache they extend.
public struct Segment: @unchecked Sendable {
    public var batch: Batch
    public var cache: KVCache

    public init(_ batch: Batch, cache: KVCache) {
        self.batch = batch
        self.cache = cache
    }
}

/// Rows `rows` of `batch`, whose keys and values go to `cache`: one sequence's share of a pass
/// (`Transformer.runChunk`).
struct PassSegment {
    var batch: Batch
    var rows: Range<Int>
    var cache: KVCache
}

extension Transformer {
    /// Run the rows of several sequences in one pass (continuous batching): the products run once over
    /// all rows, so every weight is read once per step however many sequences are active, while each
    /// row's keys and values go to its own sequence's cache and its attention sees only that cache.
    ///
    /// Rows keep the single-row reduction order of every kernel, so a sequence's logits have the same
    /// bits whatever else shares the pass (batch invariance). A segment is a causal run or a token
    /// tree (`Batch.Visibility`): several sequences can each verify their own tree in one pass, beside
    /// others prefilling or decoding, and every tree row gets the bits of that tree verified alone.
    /// Returns the logits of each segment's `logitRows`, segment after segment. Causal segments
    /// commit their rows (`cache.count`); tree segments leave committing to the caller, as `forward` does.
    /// The rows of all segments together must fit in `maxBatch`; every segment needs its own cache.
    public func forward(segments: [Segment]) throws -> Logits {
        let v = config.vocabularySize
        guard !llamaCppBatchRounding else {
            throw ModelError.invalidConfig("several sequences in one pass need batch-invariant rounding (llamaCppBatchRounding off)")
        }
        var seen = Set<ObjectIdentifier>()
        var rowCount = 0
        var logitCount = 0
        for segment in segments {
            let batch = segment.batch
            guard seen.insert(ObjectIdentifier(segment.cache)).inserted else {
                throw ModelError.invalidConfig("two segments of one pass share a KV cache")
            }
            try check(batch, rows: 0..<batch.count, cache: segment.cache, tokens: true)
            rowCount += batch.count
            logitCount += batch.logitRows.count
        }
        guard rowCount <= maxBatch else {
            throw ModelError.invalidConfig("\(rowCount) rows in one multi-sequence pass exceed the batch limit \(maxBatch)")
        }
        scratch.ensureLogitRows(max(1, logitCount), vocabulary: v)
        var passSegments: [PassSegment] = []
        var logitRows: [Int] = []  // pass rows whose logits are wanted, segment after segment
        var base = 0
        for segment in segments {
            passSegments.append(PassSegment(batch: segment.batch, rows: 0..<segment.batch.count, cache: segment.cache))
            logitRows += segment.batch.logitRows.map { base + $0 }
            base += segment.batch.count
        }
        if rowCount > 0 { runChunk(passSegments, logitRows: logitRows, logitOffset: 0) }
        for segment in segments where segment.batch.visibility == .causal {
            segment.cache.count = segment.batch.firstSlot + segment.batch.count
        }
        return Logits(base: scratch.logits, rows: logitCount, vocabularySize: v)
    }
}
