/// Something that runs a batch through the whole model and returns its logits: a `Transformer` in
/// this process, or a driver that spreads the work over several processes (`ChorusDistributed`).
/// Generation, perplexity and benchmarks go through this, so they run unchanged either way.
public protocol ForwardPass: AnyObject {
    /// Writes the batch's keys/values into `cache` from `batch.firstSlot` and returns the logits of
    /// `batch.logitRows`, valid until the next call.
    func forward(_ batch: Batch, cache: KVCache) throws -> Logits
}

extension Transformer: ForwardPass {}

extension Logits {
    /// Logits stored elsewhere (received from another process): `rows` rows of `vocabularySize`.
    public init(rowsAt base: UnsafePointer<Float>, rows: Int, vocabularySize: Int) {
        self.init(base: base, rows: rows, vocabularySize: vocabularySize)
    }
}
