/// Running one pipeline stage: the blocks of `part.layers` on one micro-batch, fed with token ids
/// (first stage) or the previous stage's hidden states, ending in hidden states for the next stage
/// or (last stage) logits.
///
/// Rows keep their bits whatever the micro-batch split (batch invariance), so a model cut into
/// stages and micro-batches gives the logits of the whole model in one process.
extension Transformer {
    /// Whether this part starts at the first block (it holds the token embeddings' work).
    public var isFirstStage: Bool { blocks.embedding != nil }
    /// Whether this part ends at the last block (it computes logits).
    public var isLastStage: Bool { blocks.head != nil }
    /// Width of the hidden states passed between stages.
    public var hiddenWidth: Int { config.embeddingLength }

    /// Runs rows `rows` of `batch` (at most `maxBatch`) through this stage's blocks. `input` holds
    /// the previous stage's hidden states for those rows ([rows][d]); nil on the first stage.
    /// Afterwards `stageOutput` holds this stage's hidden states; on the last stage the returned
    /// logits hold the rows `logitRows` (batch row indices inside `rows`), in that order.
    /// A causal batch's rows see the rows before them; a token tree's rows see their ancestors,
    /// which are in `rows` or in earlier rows of the batch already run into `cache` (parents precede
    /// children, so micro-batches in row order always qualify). `cache.count` becomes
    /// `batch.firstSlot + rows.upperBound` for a causal batch; a tree leaves committing to the caller.
    public func forwardStage(_ batch: Batch, rows: Range<Int>, cache: KVCache, input: UnsafePointer<Float>?,
                             logitRows: [Int]) throws -> Logits {
        guard rows.count <= maxBatch, rows.upperBound <= batch.count, !rows.isEmpty else {
            throw ModelError.invalidConfig("micro-batch rows \(rows) do not fit a batch of \(batch.count) with limit \(maxBatch)")
        }
        if let row = logitRows.first(where: { !rows.contains($0) }) {
            throw ModelError.invalidConfig("logit row \(row) outside the micro-batch rows \(rows)")
        }
        var micro = batch
        micro.logitRows = logitRows
        return try startPass([Segment(micro, cache: cache, rows: rows)], in: workspace, input: input).finish()
    }

    /// The hidden states `forwardStage` left: [rows][hiddenWidth], valid until the next forward pass.
    public var stageOutput: UnsafePointer<Float> { workspace.hiddenStates }
}
