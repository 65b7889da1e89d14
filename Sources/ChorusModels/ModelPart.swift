import ChorusGGUF
import ChorusKernels

/// Which part of a model one process runs: a contiguous range of transformer blocks (a pipeline
/// stage) and, within each block, one tensor-parallel slice: a group of attention heads with their
/// rows of Q/K/V, a range of feed-forward rows of gate/up, and a range of output rows (of the
/// embedding width) of the attention output and down projections.
///
/// Every product is split by output rows, never by the reduction dimension, so each row is computed
/// whole, by the same kernel in the same order as in one process; after each product the slices'
/// rows are gathered (`ExecutionContext.allGather`) and the next step sees exactly the one-process
/// values. Norms and residual adds run on every slice. Embeddings and the output head are whole on
/// every process that needs them.
public struct ModelPart: Sendable, Equatable, CustomStringConvertible {
    /// Blocks this process runs; nil means every block.
    public var layers: Range<Int>?
    /// This process's slice, 0..<tensorSlices.
    public var tensorSlice: Int
    /// Slices each block is split into (1: whole blocks).
    public var tensorSlices: Int

    public init(layers: Range<Int>? = nil, tensorSlice: Int = 0, tensorSlices: Int = 1) {
        self.layers = layers
        self.tensorSlice = tensorSlice
        self.tensorSlices = tensorSlices
    }

    /// The whole model in one process.
    public static let whole = ModelPart()

    public var description: String {
        let l = layers.map { "layers \($0.lowerBound)..<\($0.upperBound)" } ?? "all layers"
        return tensorSlices > 1 ? "\(l), tensor slice \(tensorSlice + 1)/\(tensorSlices)" : l
    }

    /// Features of a block one slice computes, in the whole model's numbering.
    public struct Slice: Sendable, Equatable {
        /// Key/value heads (query heads are the groups sharing them).
        public var kvHeads: Range<Int>
        /// Query heads.
        public var heads: Range<Int>
        /// Feed-forward rows (of gate and up).
        public var feedForward: Range<Int>
        /// Rows of the attention output and down projections (features of the residual stream).
        public var modelRows: Range<Int>
    }

    /// The slice of `config`'s blocks this part computes: KV heads dealt out as evenly as possible
    /// (each slice needs at least one), feed-forward rows in 256-wide groups so every activation
    /// quantisation block stays whole, residual-stream rows in 64-row groups.
    public func slice(of config: ModelConfig) throws -> Slice {
        let t = tensorSlices, i = tensorSlice
        guard t >= 1, (0..<t).contains(i) else { throw ModelError.invalidConfig("tensor slice \(i) of \(t)") }
        guard config.kvHeadCount >= t else {
            throw ModelError.invalidConfig("--tensor-parallel \(t) needs at least \(t) key/value heads; the model has \(config.kvHeadCount)")
        }
        let kv = i * config.kvHeadCount / t..<(i + 1) * config.kvHeadCount / t
        let group = config.gqaGroup
        let unit = 256
        guard config.feedForwardLength % unit == 0 || t == 1 else {
            throw ModelError.invalidConfig("feed_forward_length \(config.feedForwardLength) is not a multiple of \(unit); it cannot be split")
        }
        let groups = config.feedForwardLength / unit
        guard groups >= t else {
            throw ModelError.invalidConfig("feed_forward_length \(config.feedForwardLength) is too small to split \(t) ways")
        }
        let ffn = t == 1 ? 0..<config.feedForwardLength : i * groups / t * unit..<(i + 1) * groups / t * unit
        let d = config.embeddingLength, rowUnit = 64
        guard t == 1 || (d % rowUnit == 0 && d / rowUnit >= t) else {
            throw ModelError.invalidConfig("embedding_length \(d) cannot be split \(t) ways in \(rowUnit)-row groups")
        }
        let model = t == 1 ? 0..<d : i * (d / rowUnit) / t * rowUnit..<(i + 1) * (d / rowUnit) / t * rowUnit
        return Slice(kvHeads: kv, heads: kv.lowerBound * group..<kv.upperBound * group, feedForward: ffn, modelRows: model)
    }

    /// `config` as the forward pass of this slice sees it (fewer heads, a narrower feed-forward).
    public func slicedConfig(_ config: ModelConfig) throws -> ModelConfig {
        guard tensorSlices > 1 else { return config }
        let s = try slice(of: config)
        var c = config
        c.headCount = s.heads.count
        c.kvHeadCount = s.kvHeads.count
        c.feedForwardLength = s.feedForward.count
        try c.validate()
        return c
    }
}
