/// How model chunks sit on ranks, and so which rank runs each stage of a micro-batch's route.
public enum Layout: Hashable, Codable, Sendable {
    /// One chunk per rank; every micro-batch visits ranks 0, 1, ..., P-1.
    case linear
    /// V chunks per rank (Megatron interleaving); stage k runs on rank k mod P as local chunk k / P.
    case interleaved(virtualStages: Int)
    /// Two chunks per rank (DualPipe): the first half of the micro-batches go down ranks 0...P-1 on chunk 0,
    /// the second half go up ranks P-1...0 on chunk 1.
    case bidirectional

    /// Model chunks held by each rank.
    public var chunksPerRank: Int {
        switch self {
        case .linear: 1
        case .interleaved(let v): v
        case .bidirectional: 2
        }
    }

    /// Stages on every micro-batch's route.
    public func routeLength(ranks: Int) -> Int {
        switch self {
        case .linear, .bidirectional: ranks
        case .interleaved(let v): ranks * v
        }
    }

    /// Fraction of a rank's per-micro-batch cost that one chunk costs (1/V when interleaved).
    public func chunkCostScale(ranks: Int) -> Double {
        Double(ranks) / Double(routeLength(ranks: ranks))
    }

    /// Rank that runs `stage` of `microbatch`'s route.
    public func rank(microbatch: Int, stage: Int, ranks: Int, microbatches: Int) -> Int {
        switch self {
        case .linear: stage
        case .interleaved: stage % ranks
        case .bidirectional: microbatch < microbatches / 2 ? stage : ranks - 1 - stage
        }
    }

    /// Local model chunk (0-based) on its rank that runs `stage` of `microbatch`'s route.
    public func localChunk(microbatch: Int, stage: Int, ranks: Int, microbatches: Int) -> Int {
        switch self {
        case .linear: 0
        case .interleaved: stage / ranks
        case .bidirectional: microbatch < microbatches / 2 ? 0 : 1
        }
    }
}
