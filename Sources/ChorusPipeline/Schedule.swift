/// The pipeline schedules this module can generate; raw values are the CLI names.
public enum ScheduleKind: String, Hashable, Codable, Sendable, CaseIterable {
    /// All forwards, then all backwards (Huang et al. 2019).
    case gpipe
    /// One-forward-one-backward with P-1-r warm-up forwards on rank r (PipeDream-flush / Megatron).
    case oneFOneB = "1f1b"
    /// Megatron's interleaved 1F1B with V model chunks per rank.
    case interleaved
    /// ZB-H1 (Qi et al. 2023): backward split into B and W, W deferred into the cool-down bubble.
    case zeroBubbleH1 = "zb-h1"
    /// DeepSeek-V3's bidirectional DualPipe with overlapped forward/backward chunk pairs.
    case dualPipe = "dualpipe"
}

/// What to generate: the schedule family, its shape, and whether to pair chunks for communication overlap.
public struct ScheduleRequest: Hashable, Codable, Sendable {
    /// Schedule family.
    public var kind: ScheduleKind
    /// Pipeline ranks (P).
    public var ranks: Int
    /// Micro-batches per step (M).
    public var microbatches: Int
    /// Model chunks per rank for `interleaved` (V); nil means 2 there and 1 elsewhere.
    public var virtualStages: Int?
    /// Emit steady-state forward/backward pairs of different micro-batches interleaved part by part, so each one's
    /// all-to-all can run during the other's compute ("combined 1F1B"; DualPipe always pairs). Costs one extra
    /// warm-up forward on 1F1B and interleaved.
    public var pairForOverlap: Bool

    /// Creates a request; `pairForOverlap` usually follows the simulator's overlap rule.
    public init(kind: ScheduleKind, ranks: Int, microbatches: Int, virtualStages: Int? = nil, pairForOverlap: Bool = false) {
        self.kind = kind
        self.ranks = ranks
        self.microbatches = microbatches
        self.virtualStages = virtualStages
        self.pairForOverlap = pairForOverlap
    }
}

/// A pipeline schedule as data: one ordered program of actions per rank, plus the shape needed to interpret it.
public struct Schedule: Hashable, Codable, Sendable {
    /// Family that generated it.
    public var kind: ScheduleKind
    /// Pipeline ranks (P).
    public var ranks: Int
    /// Micro-batches (M).
    public var microbatches: Int
    /// Where each stage of each route runs.
    public var layout: Layout
    /// Whether steady-state F/B pairs are interleaved part by part for overlap.
    public var paired: Bool
    /// Per rank, the ordered program.
    public var actions: [[Action]]
    /// Per rank, the most chunks whose forward is done and backward (B) is not, that this schedule promises.
    public var activationBound: [Int]

    /// Creates a schedule from explicit programs (generators, tests, traces).
    public init(kind: ScheduleKind, ranks: Int, microbatches: Int, layout: Layout, paired: Bool, actions: [[Action]], activationBound: [Int]) {
        self.kind = kind
        self.ranks = ranks
        self.microbatches = microbatches
        self.layout = layout
        self.paired = paired
        self.actions = actions
        self.activationBound = activationBound
    }

    /// Builds the schedule a request names, or explains why the shape does not fit it.
    public static func generate(_ request: ScheduleRequest) throws -> Schedule {
        let p = request.ranks, m = request.microbatches
        guard p >= 1 else { throw PipelineError.invalidShape("--stages must be at least 1 (got \(p))") }
        guard m >= 1 else { throw PipelineError.invalidShape("--microbatches must be at least 1 (got \(m))") }
        if let v = request.virtualStages, request.kind != .interleaved, v != 1 {
            throw PipelineError.invalidShape("--virtual \(v) applies only to the interleaved schedule (\(request.kind.rawValue) has one chunk per rank)")
        }
        switch request.kind {
        case .gpipe: return GPipe.make(ranks: p, microbatches: m)
        case .oneFOneB: return OneFOneB.make(ranks: p, microbatches: m, paired: request.pairForOverlap)
        case .interleaved:
            return try Interleaved.make(ranks: p, microbatches: m, virtualStages: request.virtualStages ?? 2, paired: request.pairForOverlap)
        case .zeroBubbleH1: return ZeroBubbleH1.make(ranks: p, microbatches: m)
        case .dualPipe: return try DualPipe.make(ranks: p, microbatches: m)
        }
    }

    /// Stages on every micro-batch's route.
    public var routeLength: Int { layout.routeLength(ranks: ranks) }

    /// Rank running `stage` of `microbatch`.
    public func rank(microbatch: Int, stage: Int) -> Int {
        layout.rank(microbatch: microbatch, stage: stage, ranks: ranks, microbatches: microbatches)
    }

    /// Local chunk index on its rank for `stage` of `microbatch`.
    public func localChunk(microbatch: Int, stage: Int) -> Int {
        layout.localChunk(microbatch: microbatch, stage: stage, ranks: ranks, microbatches: microbatches)
    }

    /// Per rank, the most chunks with forward done and B not done, walking the compute lane in program order
    /// (compute runs one action at a time in that order, so this is exact whatever the costs).
    public var peakActivations: [Int] {
        actions.map { program in
            var live = 0, peak = 0
            for action in program {
                switch action.op {
                case .forward(.mlp): live += 1; peak = max(peak, live)
                case .backward(.attention, _): live -= 1
                default: break
                }
            }
            return peak
        }
    }

    /// Total actions over all ranks.
    public var actionCount: Int { actions.reduce(0) { $0 + $1.count } }
}
