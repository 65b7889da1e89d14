import ChorusPipeline
import Foundation

/// The measured actions of a pipeline training run (`--trace`): the schedule and, per recorded step, every
/// rank's actions with their measured intervals. Its timelines are ChorusPipeline `Timeline`s, so the
/// simulator's report, SVG renderer and comparison apply to them unchanged: `comparison(step:)` puts the
/// measured makespan, bubble and peak of stored activations beside the simulator's for the measured costs,
/// with the keys of `chorus pipeline compare --json` plus the activation peaks.
public struct TrainingTrace: Codable, Sendable, Equatable {
    public var model: String
    public var schedule: Schedule
    public var steps: [StepRecord]

    public init(model: String, schedule: Schedule, steps: [StepRecord]) {
        self.model = model
        self.schedule = schedule
        self.steps = steps
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    public static func load(path: String) throws -> TrainingTrace {
        guard let data = FileManager.default.contents(atPath: path) else { throw TrainingError.invalidOption("cannot read trace '\(path)'") }
        do { return try JSONDecoder().decode(TrainingTrace.self, from: data) } catch {
            throw TrainingError.invalidOption("'\(path)' is not a Chorus training trace: \(error)")
        }
    }

    func record(_ step: Int) throws -> StepRecord {
        guard steps.indices.contains(step) else { throw TrainingError.invalidOption("the trace has no step \(step) (it has \(steps.count))") }
        return steps[step]
    }

    /// Step `step` as measured (ms from its common start).
    public func measured(step: Int = 0) throws -> Timeline {
        let ranks = try record(step).ranks.sorted { $0.rank < $1.rank }
        let programs = ranks.map(\.actions)
        let makespan = programs.flatMap { $0.map(\.end) }.max() ?? 0
        return Timeline(schedule: schedule, costs: try costs(step: step).costs, overlap: true, programs: programs, makespan: makespan)
    }

    /// The cost model the measured step implies: mean chunk forward, input-gradient and weight-gradient
    /// times (ms) scaled to a rank's per-micro-batch work, the median transfer time, each rank's compute
    /// relative to the mean, and the whole compute in a chunk's first half (dense parts).
    public func costs(step: Int = 0) throws -> (costs: CostModel, rankScale: [Double]) {
        let ranks = try record(step).ranks.sorted { $0.rank < $1.rank }
        func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
        let scale = schedule.layout.chunkCostScale(ranks: schedule.ranks)
        let f = mean(ranks.flatMap(\.forwardSeconds)) * 1000 / scale
        let b = mean(ranks.flatMap(\.backwardSeconds)) * 1000 / scale
        let w = mean(ranks.flatMap(\.weightSeconds)) * 1000 / scale
        let perRank = ranks.map { mean($0.forwardSeconds) + mean($0.backwardSeconds) + mean($0.weightSeconds) }
        let overall = mean(perRank)
        let costs = CostModel(forward: f, backward: b, weight: w, pipeline: transferTime(ranks), expert: 0, attentionShare: 1)
        return (costs, perRank.map { overall > 0 ? $0 / overall : 1 })
    }

    /// Median ms from a send's start to its data being seen, over the transfers sent while the receiving
    /// compute was already blocked waiting for them (otherwise the time in flight is hidden); 0 without any.
    func transferTime(_ ranks: [RankRecord]) -> Double {
        var sendStart: [String: Double] = [:]
        for rank in ranks {
            for a in rank.actions {
                if case .send(let tensor, _) = a.action.op {
                    sendStart["\(tensor)/\(a.action.microbatch)/\(a.action.stage + (tensor == .activation ? 1 : -1))"] = a.start
                }
            }
        }
        var samples: [Double] = []
        for rank in ranks {
            for wait in rank.waits where rank.actions.indices.contains(wait.index) {
                let a = rank.actions[wait.index].action
                guard case .recv(let tensor, _) = a.op, let sent = sendStart["\(tensor)/\(a.microbatch)/\(a.stage)"], sent >= wait.start else { continue }
                samples.append(max(0, wait.end - sent))
            }
        }
        return samples.isEmpty ? 0 : samples.sorted()[samples.count / 2]
    }

    /// The simulator's run of the same schedule with the measured costs.
    public func simulated(step: Int = 0) throws -> Timeline {
        let (costs, rankScale) = try self.costs(step: step)
        var simulator = Simulator(costs: costs, overlap: true)
        simulator.rankComputeScale = rankScale
        return try simulator.run(schedule)
    }

    /// Measured against simulated for step `step`.
    public func comparison(step: Int = 0) throws -> TrainingComparison {
        let measuredTimeline = try measured(step: step)
        let measured = SimulationReport(measuredTimeline), simulated = SimulationReport(try simulated(step: step))
        let ranks = try record(step).ranks.sorted { $0.rank < $1.rank }
        return TrainingComparison(
            schedule: schedule.kind.rawValue, stages: schedule.ranks, microbatches: schedule.microbatches,
            measuredMakespan: measured.makespan, simulatedMakespan: simulated.makespan,
            measuredBubble: measured.bubbleFraction, simulatedBubble: simulated.bubbleFraction,
            measuredPeakActivations: ranks.map(\.peakActivations), simulatedPeakActivations: simulated.peakActivations,
            peakStoredBytes: ranks.map(\.peakStoredBytes), costs: try costs(step: step).costs)
    }
}

/// A measured training step beside the simulator's prediction for its measured costs.
public struct TrainingComparison: Codable, Sendable, Equatable {
    public var schedule: String
    public var stages: Int
    public var microbatches: Int
    public var measuredMakespan: Double
    public var simulatedMakespan: Double
    public var measuredBubble: Double
    public var simulatedBubble: Double
    /// Per rank, the most chunks with forward done and B not done, measured by the executor.
    public var measuredPeakActivations: [Int]
    /// Per rank, the simulator's `peak_activations` for the schedule.
    public var simulatedPeakActivations: [Int]
    /// Per rank, the most bytes of stored activations and W inputs.
    public var peakStoredBytes: [Int]
    public var costs: CostModel

    /// (simulated - measured) / measured makespan.
    public var relativeError: Double { measuredMakespan > 0 ? (simulatedMakespan - measuredMakespan) / measuredMakespan : 0 }

    /// The `chorus pipeline compare --json` keys, plus the activation peaks.
    public var jsonObject: [String: Any] {
        ["schedule": schedule, "stages": stages, "microbatches": microbatches,
         "measured_makespan_ms": measuredMakespan, "simulated_makespan_ms": simulatedMakespan, "relative_error": relativeError,
         "measured_bubble_fraction": measuredBubble, "simulated_bubble_fraction": simulatedBubble,
         "measured_peak_activations": measuredPeakActivations, "peak_activations": simulatedPeakActivations,
         "peak_stored_bytes": peakStoredBytes,
         "costs_ms": ["f": costs.forward, "b": costs.backward, "w": costs.weight, "pp": costs.pipeline]]
    }
}
