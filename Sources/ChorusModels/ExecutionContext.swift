import ChorusRuntime

/// How a forward pass runs, as opposed to what it computes: the threads and how operators are split
/// across them, the rounding policy, observers (profiler, taps), the tensor-parallel exchange, the
/// tree-attention mode and the output-head rows. A value: a `Transformer` is built with one as its
/// default and `Transformer.with(_:)` gives a view running under another, so the tuner, a planned
/// decoder, the profiler and tests change settings without touching a model others hold.
///
/// Every setting but `rounding` and `treeAttention` leaves every bit as it is; those two say so.
public struct ExecutionContext: @unchecked Sendable {
    /// Receives intermediate tensors, named as llama.cpp's graph names them ("Qcur-3", "kqv_out-3",
    /// "l_out-3", "result_norm", "result_output"), with their rows: for comparing implementations.
    public typealias Tap = (_ name: String, _ values: [Float]) -> Void
    /// Gathers equal-sized float buffers from every tensor-parallel slice: `receive` gets each
    /// slice's `send` in slice order.
    public typealias AllGather = (_ send: UnsafeBufferPointer<Float>, _ receive: UnsafeMutableBufferPointer<Float>) -> Void

    /// Threads the operators are split across (the caller's thread included).
    public var pool: ThreadPool
    /// How each operator class is split across the pool's compute units (even by default). Any
    /// valid plan gives the same bits; it only changes who computes which rows.
    public var plan: PartitionPlan
    /// Batch-invariant products (the default) or llama.cpp's batch-dependent K-quant rounding (`Linear`).
    public var rounding: RoundingPolicy
    /// Per-operator timing, when profiling.
    public var profiler: OperatorProfiler?
    /// Intermediate tensors, when comparing against another implementation.
    public var tap: Tap?
    /// The exchange between tensor-parallel slices; required when the model part has several.
    public var allGather: AllGather?
    /// How token-tree rows combine the committed prefix with their ancestors (`TreeAttentionMode`).
    public var treeAttention: TreeAttentionMode
    /// The vocabulary ids whose logits the output head computes (the others are -infinity); nil:
    /// all. A draft model restricted to its frequent tokens reads a fraction of its output head,
    /// which is a quarter of a small model's weights (`ModelDrafter`); verification keeps the
    /// output exact whatever the drafter proposes.
    public var headVocabulary: [Range<Int>]?

    public init(pool: ThreadPool, plan: PartitionPlan? = nil, rounding: RoundingPolicy = .batchInvariant,
                profiler: OperatorProfiler? = nil, tap: Tap? = nil, allGather: AllGather? = nil,
                treeAttention: TreeAttentionMode = .sequential, headVocabulary: [Range<Int>]? = nil) {
        self.pool = pool
        self.plan = plan ?? .uniform(units: pool.threadCount)
        self.rounding = rounding
        self.profiler = profiler
        self.tap = tap
        self.allGather = allGather
        self.treeAttention = treeAttention
        self.headVocabulary = headVocabulary
    }

    /// Throws a one-line error unless this context can run a model with `vocabulary` ids (the
    /// tensor-parallel exchange is checked when a pass starts: a slice may get it after loading).
    func validate(vocabulary: Int) throws {
        do {
            try plan.validate(forUnits: pool.threadCount)
        } catch {
            throw ModelError.invalidConfig("the partition plan does not fit a pool of \(pool.threadCount) thread(s): \(error)")
        }
        if let ids = headVocabulary, let bad = ids.first(where: { $0.lowerBound < 0 || $0.upperBound > vocabulary }) {
            throw ModelError.invalidConfig("head vocabulary \(bad) is outside the model's \(vocabulary) ids")
        }
    }
}

/// How token-tree batches combine the committed prefix with each row's ancestors (`AttentionScores.swift`).
public enum TreeAttentionMode: Sendable {
    /// The sparse tree kernel continues each row's prefix state over the row's ancestors: the same
    /// operations in the same order as the causal path of the row's chain, so a tree row has the
    /// bits of its chain decoded alone (what greedy speculative decoding's equality relies on).
    case sequential
    /// Prefix and tree parts computed independently (separate regions, which could run on
    /// different compute units) and merged by log-sum-exp: equal to `sequential` up to rounding.
    case merged
    /// Reference for measurement: every row scores all batch rows up to itself and drops the
    /// masked ones (a dense masked attention), then continues as `sequential`; same bits as it.
    case denseMasked
}
