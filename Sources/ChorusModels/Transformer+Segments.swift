import ChorusKernels
import ChorusRuntime

extension Transformer {
    /// Run the rows of several sequences in one pass (continuous batching): the products run once over
    /// all rows, so every weight is read once per step however many sequences are active, while each
    /// row's keys and values go to its own sequence's cache and its attention sees only that cache.
    ///
    /// Rows keep the single-row reduction order of every kernel, so a sequence's logits have the same
    /// bits whatever else shares the pass (batch invariance). A segment is a causal run or a token
    /// tree (`Batch.Visibility`): several sequences can each verify their own tree in one pass, beside
    /// others prefilling or decoding, and every tree row gets the bits of that tree verified alone.
    /// Returns the logits of each segment's `logitRows` (within its rows), segment after segment.
    /// Causal segments commit their rows (`cache.count`); tree segments leave committing to the
    /// caller, as `forward` does. The rows of all segments together must fit in `maxBatch`; every
    /// segment needs its own cache.
    public func forward(segments: [Segment]) throws -> Logits {
        guard context.rounding == .batchInvariant else {
            throw ModelError.invalidConfig("several sequences in one pass need batch-invariant rounding")
        }
        guard isFirstStage && isLastStage else { throw ModelError.invalidConfig("a pipeline stage runs with forwardStage") }
        return try startPass(segments, in: workspace).finish()
    }

    /// Checks a pass's segments (one-line errors) and returns the pass rows whose logits are wanted,
    /// segment after segment.
    func checkSegments(_ segments: [Segment], input: UnsafePointer<Float>?, limit: Int) throws -> [Int] {
        guard input != nil || isFirstStage else { throw ModelError.invalidConfig("a later pipeline stage needs hidden states") }
        var seen = Set<ObjectIdentifier>()
        var logitRows: [Int] = []
        var base = 0
        for segment in segments {
            guard seen.insert(ObjectIdentifier(segment.cache)).inserted else {
                throw ModelError.invalidConfig("two segments of one pass share a KV cache")
            }
            guard segment.rows.lowerBound >= 0, segment.rows.upperBound <= segment.batch.count else {
                throw ModelError.invalidConfig("segment rows \(segment.rows) outside a batch of \(segment.batch.count)")
            }
            try check(segment.batch, rows: segment.rows, cache: segment.cache, tokens: input == nil)
            logitRows += segment.batch.logitRows.filter { segment.rows.contains($0) }.map { base + $0 - segment.rows.lowerBound }
            base += segment.rows.count
        }
        guard base <= limit else {
            throw ModelError.invalidConfig("\(base) rows in one pass exceed the batch limit \(limit)")
        }
        return logitRows
    }

    /// Throws a one-line error unless `context` can run a pass of this part: a tensor-parallel slice
    /// needs the exchange with the other slices.
    func checkExchange(_ context: ExecutionContext) throws {
        guard part.tensorSlices == 1 || context.allGather != nil else {
            throw ModelError.invalidConfig("a tensor-parallel slice needs ExecutionContext.allGather")
        }
    }

    /// Throws a one-line error unless rows `rows` of `batch` can run into `cache`: positions for every
    /// token, slots within the cache, token ids within the vocabulary (when `tokens`: the pass
    /// embeds them), wanted logit rows within the batch, tree parents preceding their children.
    func check(_ batch: Batch, rows: Range<Int>, cache: KVCache, tokens: Bool) throws {
        let v = config.vocabularySize
        guard batch.positions.count == batch.count else { throw ModelError.invalidConfig("batch positions do not match tokens") }
        guard batch.firstSlot >= 0, batch.firstSlot + rows.upperBound <= cache.capacity else {
            throw ModelError.contextOverflow(needed: batch.firstSlot + rows.upperBound, capacity: cache.capacity)
        }
        if tokens, let token = batch.tokens[rows].first(where: { $0 < 0 || $0 >= v }) {
            throw ModelError.invalidConfig("token id \(token) outside the vocabulary of \(v)")
        }
        if let row = batch.logitRows.first(where: { !batch.tokens.indices.contains($0) }) {
            throw ModelError.invalidConfig("logit row \(row) outside a batch of \(batch.count)")
        }
        if case .tree(let parents) = batch.visibility {
            guard parents.count == batch.count else { throw ModelError.invalidConfig("tree parents do not match tokens") }
            if let i = parents.indices.first(where: { parents[$0] < -1 || parents[$0] >= $0 }) {
                throw ModelError.invalidConfig("tree node \(i) has parent \(parents[i]); parents must precede their children")
            }
        }
    }
}
