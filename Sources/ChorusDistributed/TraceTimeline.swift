import ChorusPipeline

/// A measured forward pass as an issue-6 `Timeline` (so the schedule renderer draws it and the
/// simulator can replay it), and the simulator's prediction for the same per-stage costs.
///
/// Times are milliseconds from the pass's first event. Only slice 0 of each stage is drawn (the
/// slices of a stage move in lockstep). A stage's compute of a micro-batch is drawn as the issue-6
/// F.attn and F.mlp halves (the engine does not time attention and MLP apart, so each half is half
/// the measured interval); waits for hidden states are the receives, non-blocking sends the sends.
public struct TraceTimeline {
    public let trace: Trace
    /// Which forward pass (0 = the first: the prompt's prefill, or perplexity's first chunk).
    public let forward: Int

    public init(trace: Trace, forward: Int? = nil) throws {
        self.trace = trace
        let leaders = (0..<trace.layout.stages).map { trace.layout.rank(stage: $0, slice: 0) }
        // Default: the forward pass with the most micro-batches (the first such).
        var counts: [Int: Int] = [:]
        for e in trace.ranks[leaders[0]] where e.kind == .compute { counts[e.forward, default: 0] += 1 }
        guard let best = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key else {
            throw DistributedError.invalidSetup("the trace has no compute intervals")
        }
        let chosen = forward ?? best
        guard counts[chosen] != nil else { throw DistributedError.invalidSetup("the trace has no forward pass \(chosen)") }
        self.forward = chosen
    }

    var leaders: [Int] { (0..<trace.layout.stages).map { trace.layout.rank(stage: $0, slice: 0) } }

    func events(_ rank: Int, _ kind: TraceKind) -> [TraceEvent] {
        trace.ranks[rank].filter { $0.kind == kind && $0.forward == forward }
    }

    /// Micro-batches of the chosen pass.
    public var microbatches: Int { events(leaders[0], .compute).count }

    /// The measured timeline.
    public func measured() throws -> Timeline {
        let p = trace.layout.stages, m = microbatches
        let schedule = try forwardSchedule(stages: p, microbatches: m)
        let origin = leaders.flatMap { r in trace.ranks[r].filter { $0.forward == forward } }.map(\.start).min() ?? 0
        func ms(_ t: Double) -> Double { (t - origin) * 1000 }
        let receiverWaits = leaders.map { r in Dictionary(events(r, .wait).map { ($0.microbatch, $0) }, uniquingKeysWith: { a, _ in a }) }
        var programs: [[TimedAction]] = []
        var makespan = 0.0
        for (stage, rank) in leaders.enumerated() {
            let compute = Dictionary(events(rank, .compute).map { ($0.microbatch, $0) }, uniquingKeysWith: { a, _ in a })
            let waits = Dictionary(events(rank, .wait).map { ($0.microbatch, $0) }, uniquingKeysWith: { a, _ in a })
            let sends = Dictionary(events(rank, .send).map { ($0.microbatch, $0) }, uniquingKeysWith: { a, _ in a })
            var program: [TimedAction] = []
            for action in schedule.actions[stage] {
                let mb = action.microbatch
                guard let c = compute[mb] else { throw DistributedError.invalidSetup("rank \(rank) has no compute for micro-batch \(mb)") }
                let mid = (c.start + c.end) / 2
                let (lane, start, end): (Lane, Double, Double)
                switch action.op {
                case .forward(.attention): (lane, start, end) = (.compute, c.start, mid)
                case .dispatch: (lane, start, end) = (.communication, mid, mid)
                case .forward(.mlp): (lane, start, end) = (.compute, mid, c.end)
                case .combine: (lane, start, end) = (.communication, c.end, c.end)
                case .recv:
                    let w = waits[mb]
                    (lane, start, end) = (.communication, w?.start ?? c.start, w?.end ?? c.start)
                case .send:
                    // A send's completion is only seen lazily; it is drawn from posting to the
                    // receiver holding the data (its wait's end), or as instant without a receiver wait.
                    let posted = sends[mb]?.start ?? c.end
                    let arrival = stage + 1 < leaders.count ? receiverWaits[stage + 1][mb]?.end : nil
                    (lane, start, end) = (.communication, posted, max(posted, arrival ?? posted))
                default: continue
                }
                program.append(TimedAction(action: action, lane: lane, start: ms(start), end: ms(end), activeStart: ms(start)))
                makespan = max(makespan, ms(end))
            }
            programs.append(program)
        }
        return Timeline(schedule: schedule, costs: measuredCosts(), overlap: true, programs: programs, makespan: makespan)
    }

    /// Per stage, mean compute per micro-batch (ms).
    public var stageCompute: [Double] {
        leaders.map { r in
            let c = events(r, .compute)
            return c.isEmpty ? 0 : c.map { $0.end - $0.start }.reduce(0, +) / Double(c.count) * 1000
        }
    }

    /// Median time from a stage finishing a micro-batch to the next stage holding it (ms), over the
    /// micro-batches the receiver was already waiting for when they were sent (otherwise the data sat
    /// in its buffer and the transfer time is not seen); 0 when there is none.
    public var transferTime: Double {
        var samples: [Double] = []
        for s in 1..<max(1, leaders.count) {
            let sent = Dictionary(events(leaders[s - 1], .compute).map { ($0.microbatch, $0.end) }, uniquingKeysWith: { a, _ in a })
            for w in events(leaders[s], .wait) {
                if let t = sent[w.microbatch], w.start <= t, w.end >= t { samples.append((w.end - t) * 1000) }
            }
        }
        return samples.isEmpty ? 0 : samples.sorted()[samples.count / 2]
    }

    /// Share of the stage leaders' time in the pass spent blocked on other ranks (waits for hidden
    /// states, logits or send completion), over leaders x makespan.
    public var communicationShare: Double {
        let all = leaders.flatMap { r in trace.ranks[r].filter { $0.forward == forward } }
        guard let start = all.map(\.start).min(), let end = all.map(\.end).max(), end > start else { return 0 }
        let blocked = leaders.flatMap { r in trace.ranks[r].filter { $0.forward == forward && $0.kind == .wait } }
            .map { $0.end - $0.start }.reduce(0, +)
        return blocked / (Double(leaders.count) * (end - start))
    }

    func measuredCosts() -> CostModel {
        let mean = stageCompute.reduce(0, +) / Double(max(1, stageCompute.count))
        return CostModel(forward: mean, backward: 0, weight: 0, pipeline: transferTime, expert: 0)
    }

    /// The simulator's run of the same forward-only schedule with the measured per-stage compute
    /// and transfer costs.
    public func simulated() throws -> Timeline {
        let costs = measuredCosts()
        var simulator = Simulator(costs: costs, overlap: true)
        simulator.rankComputeScale = stageCompute.map { costs.forward > 0 ? $0 / costs.forward : 1 }
        return try simulator.run(try forwardSchedule(stages: trace.layout.stages, microbatches: microbatches))
    }

    /// GPipe's forward half: the order every forward-only pipeline runs.
    func forwardSchedule(stages: Int, microbatches: Int) throws -> Schedule {
        var s = try Schedule.generate(ScheduleRequest(kind: .gpipe, ranks: stages, microbatches: microbatches))
        s.actions = s.actions.map { program in
            program.filter { a in
                switch a.op {
                case .forward, .dispatch(.forward), .combine(.forward), .send(.activation, _), .recv(.activation, _): true
                default: false
                }
            }
        }
        s.activationBound = Array(repeating: microbatches, count: stages)
        return s
    }
}
