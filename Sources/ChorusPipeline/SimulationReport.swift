/// The numbers a user compares schedules by, computed from a timeline.
public struct SimulationReport: Hashable, Codable, Sendable {
    /// Schedule family.
    public var schedule: ScheduleKind
    /// Pipeline ranks (P).
    public var ranks: Int
    /// Micro-batches (M).
    public var microbatches: Int
    /// Model chunks per rank (V for interleaved, 2 for dualpipe, else 1).
    public var chunksPerRank: Int
    /// Whether communication had its own lane.
    public var overlap: Bool
    /// Time from the first action to the last.
    public var makespan: Double
    /// 1 - (mean over ranks of busy compute time) / makespan.
    public var bubbleFraction: Double
    /// Per rank, time spent computing (F, B, W).
    public var busy: [Double]
    /// Per rank, the most chunks whose forward was done and B was not.
    public var peakActivations: [Int]
    /// Per rank, the schedule's promised bound on `peakActivations`.
    public var activationBound: [Int]
    /// Per rank, time during which some communication of the rank was in flight.
    public var communication: [Double]
    /// Per rank, the part of `communication` during which the rank computed nothing (it waited for it).
    public var exposed: [Double]

    /// Mean over ranks of exposed communication time.
    public var exposedComm: Double { mean(exposed) }
    /// Mean over ranks of communication time hidden behind compute.
    public var hiddenComm: Double { mean(zip(communication, exposed).map { $0 - $1 }) }

    /// Measures `timeline`.
    public init(_ timeline: Timeline) {
        let schedule = timeline.schedule
        self.schedule = schedule.kind
        ranks = schedule.ranks
        microbatches = schedule.microbatches
        chunksPerRank = schedule.layout.chunksPerRank
        overlap = timeline.overlap
        makespan = timeline.makespan
        peakActivations = schedule.peakActivations
        activationBound = schedule.activationBound
        var busy: [Double] = [], communication: [Double] = [], exposed: [Double] = []
        for program in timeline.programs {
            let compute = merge(program.filter { $0.action.op.isCompute }.map { ($0.start, $0.end) })
            let comm = merge(program.filter { !$0.action.op.isCompute }.map { ($0.activeStart, $0.end) })
            let total = length(comm)
            busy.append(length(compute))
            communication.append(total)
            exposed.append(max(0, total - length(intersect(comm, compute))))
        }
        self.busy = busy
        self.communication = communication
        self.exposed = exposed
        bubbleFraction = makespan > 0 ? 1 - mean(busy) / makespan : 0
    }
}

private func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

/// Sorted, disjoint union of intervals (zero-length ones dropped).
private func merge(_ intervals: [(Double, Double)]) -> [(Double, Double)] {
    var out: [(Double, Double)] = []
    for (s, e) in intervals.filter({ $0.1 > $0.0 }).sorted(by: { $0.0 < $1.0 }) {
        if let last = out.last, s <= last.1 { out[out.count - 1].1 = max(last.1, e) } else { out.append((s, e)) }
    }
    return out
}

private func length(_ intervals: [(Double, Double)]) -> Double { intervals.reduce(0) { $0 + ($1.1 - $1.0) } }

/// Intersection of two sorted disjoint unions.
private func intersect(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> [(Double, Double)] {
    var out: [(Double, Double)] = []
    var i = 0, j = 0
    while i < a.count, j < b.count {
        let s = max(a[i].0, b[j].0), e = min(a[i].1, b[j].1)
        if e > s { out.append((s, e)) }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    return out
}
