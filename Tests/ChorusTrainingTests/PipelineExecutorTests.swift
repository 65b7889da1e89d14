import ChorusPipeline
import ChorusTraining
import ChorusTrainingTestSupport
import ChorusTransport
import Foundation
import Testing

/// The executor runs every schedule's actions on the tiny model and must give the unsplit computation's
/// losses and parameters: bit for bit where each part is held once, within float rounding for DualPipe's
/// two copies (see `PipelineExecutor`).
@Suite struct PipelineExecutorTests {
    static let layers = 8
    static let steps = 3

    /// Runs `schedule` with one thread per rank over a loopback transport and merges the ranks' results.
    static func loopback(_ schedule: Schedule, record: Bool = false) throws -> TinyRun.Result {
        let endpoints = LoopbackTransport.endpoints(ranks: schedule.ranks, timeout: 30)
        let box = ResultBox(count: schedule.ranks)
        let group = DispatchGroup()
        for rank in 0..<schedule.ranks {
            let endpoint = UncheckedBox(endpoint: endpoints[rank])
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                box.set(rank, Result(catching: {
                    try TinyRun.runRank(schedule: schedule, rank: rank, transport: schedule.ranks > 1 ? endpoint.endpoint : nil,
                                        layers: layers, steps: steps, record: record)
                }))
            }
        }
        guard group.wait(timeout: .now() + 120) == .success else { throw TrainingError.invalidPipeline("loopback run timed out") }
        return try TinyRun.merge(try box.results.map { try $0!.get() })
    }

    static func schedule(_ kind: ScheduleKind, ranks: Int, microbatches: Int) throws -> Schedule {
        try Schedule.generate(ScheduleRequest(kind: kind, ranks: ranks, microbatches: microbatches))
    }

    /// Asserts `run` equals the unsplit computation: bitwise, or (DualPipe) losses within `tolerance` relative
    /// and each parameter tensor within `tolerance` in relative norm |a - b| / |b|.
    static func expectEqual(_ run: TinyRun.Result, _ reference: TinyRun.Result, tolerance: Double?, _ label: String) {
        #expect(run.parameters.keys.sorted() == reference.parameters.keys.sorted(), "\(label): parameter sets differ")
        if let tolerance {
            for (a, b) in zip(run.losses, reference.losses) {
                #expect(abs(a - b) <= tolerance * abs(b), "\(label): loss \(a) vs \(b)")
            }
            for (name, values) in reference.parameters {
                let got = run.parameters[name] ?? []
                var difference = 0.0, norm = 0.0
                for (x, y) in zip(got, values) {
                    difference += (Double(x) - Double(y)) * (Double(x) - Double(y))
                    norm += Double(y) * Double(y)
                }
                let relative = (difference / norm).squareRoot()
                #expect(got.count == values.count && relative <= tolerance, "\(label): \(name) differs by \(relative) in relative norm")
            }
        } else {
            #expect(run.losses.map(\.bitPattern) == reference.losses.map(\.bitPattern), "\(label): losses \(run.losses) vs \(reference.losses)")
            for (name, values) in reference.parameters {
                #expect(run.parameters[name]?.map(\.bitPattern) == values.map(\.bitPattern), "\(label): \(name) is not bitwise the unsplit result")
            }
        }
    }

    @Test(arguments: ScheduleKind.allCases)
    func twoRanksEqualUnsplit(kind: ScheduleKind) throws {
        let s = try Self.schedule(kind, ranks: 2, microbatches: 4)
        let run = try Self.loopback(s)
        let reference = try TinyRun.unsplit(microbatches: 4, layers: Self.layers, steps: Self.steps)
        #expect(run.inOrder, "\(kind): weight gradients do not accumulate in micro-batch order")
        Self.expectEqual(run, reference, tolerance: kind == .dualPipe ? 1e-6 : nil, "\(kind) P=2")
        #expect(run.peakActivations == s.peakActivations, "\(kind): measured peak \(run.peakActivations) vs simulator \(s.peakActivations)")
        #expect(run.losses.last! < run.losses.first!, "\(kind): training did not lower the loss \(run.losses)")
    }

    @Test(arguments: [ScheduleKind.interleaved, .zeroBubbleH1, .dualPipe, .oneFOneB])
    func fourRanksEqualUnsplit(kind: ScheduleKind) throws {
        let s = try Self.schedule(kind, ranks: 4, microbatches: 8)
        let run = try Self.loopback(s)
        let reference = try TinyRun.unsplit(microbatches: 8, layers: Self.layers, steps: Self.steps)
        Self.expectEqual(run, reference, tolerance: kind == .dualPipe ? 1e-6 : nil, "\(kind) P=4")
        #expect(run.peakActivations == s.peakActivations, "\(kind): measured peak \(run.peakActivations) vs simulator \(s.peakActivations)")
    }

    /// Paired steady states (forward and backward chunks of different micro-batches interleaved part by part,
    /// "combined 1F1B") run the same computation.
    @Test(arguments: [ScheduleKind.oneFOneB, .interleaved])
    func pairedSchedulesEqualUnsplit(kind: ScheduleKind) throws {
        let s = try Schedule.generate(ScheduleRequest(kind: kind, ranks: 2, microbatches: 4, pairForOverlap: true))
        #expect(s.paired)
        let run = try Self.loopback(s)
        Self.expectEqual(run, try TinyRun.unsplit(microbatches: 4, layers: Self.layers, steps: Self.steps), tolerance: nil, "paired \(kind) P=2")
        #expect(run.peakActivations == s.peakActivations)
    }

    @Test func oneRankWithoutTransportEqualsUnsplit() throws {
        for kind in [ScheduleKind.gpipe, .oneFOneB, .zeroBubbleH1] {
            let run = try Self.loopback(try Self.schedule(kind, ranks: 1, microbatches: 3))
            Self.expectEqual(run, try TinyRun.unsplit(microbatches: 3, layers: Self.layers, steps: Self.steps), tolerance: nil, "\(kind) P=1")
        }
    }

    /// Gradient accumulation: 4 micro-batches of 3 rows give the gradient of the 12-row batch's mean loss.
    @Test func accumulationEqualsOneBigBatch() throws {
        let stack = TinyStack(width: TinyRun.width, layers: 4, parts: 1, seed: 7)
        let parameters = stack.parameters(part: 0)
        let small = (0..<4).map { TinyBatch.make(index: $0, rows: 3, width: TinyRun.width, seed: 9) }
        let big = TinyBatch(rows: 12, inputs: small.flatMap(\.inputs), targets: small.flatMap(\.targets))
        func gradients(_ batches: [TinyBatch]) throws -> (Double, [[Float]]) {
            for p in parameters { p.zeroGradient() }
            let executor = try PipelineExecutor(schedule: try Self.schedule(.oneFOneB, ranks: 1, microbatches: batches.count),
                                                rank: 0, transport: nil, operations: stack)
            let report = try executor.step(batches, lossScale: 1 / 12)
            return (report.loss, parameters.map(\.gradient))
        }
        let (lossSplit, split) = try gradients(small)
        let (lossWhole, whole) = try gradients([big])
        #expect(abs(lossSplit - lossWhole) <= 1e-12 * abs(lossWhole))
        for (a, b) in zip(split, whole) {
            for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-6 * max(1, abs(y)), "accumulated \(x) vs whole-batch \(y)") }
        }
        #expect(split.contains { $0.contains { $0 != 0 } })
    }

    /// A recorded step gives a measured timeline the simulator's report reads, with the measured peaks.
    @Test func recordedStepComparesWithSimulator() throws {
        let s = try Self.schedule(.zeroBubbleH1, ranks: 2, microbatches: 4)
        let run = try Self.loopback(s, record: true)
        let record = try #require(run.record)
        #expect(record.ranks.count == 2)
        let trace = TrainingTrace(model: "tiny", schedule: s, steps: [record])
        let decoded = try JSONDecoder().decode(TrainingTrace.self, from: try trace.encoded())
        #expect(decoded == trace)
        let comparison = try trace.comparison()
        #expect(comparison.measuredPeakActivations == s.peakActivations)
        #expect(comparison.simulatedPeakActivations == s.peakActivations)
        #expect(comparison.measuredMakespan > 0 && comparison.simulatedMakespan > 0)
        #expect(comparison.measuredBubble >= 0 && comparison.measuredBubble < 1)
        #expect(comparison.costs.forward > 0 && comparison.costs.backward > 0 && comparison.costs.weight > 0)
        // Every action of the program is in the measured timeline, in program order, with end >= start.
        for (rank, ranked) in record.ranks.enumerated() {
            #expect(ranked.actions.map(\.action) == s.actions[rank])
            #expect(ranked.actions.allSatisfy { $0.end >= $0.start })
        }
        let json = comparison.jsonObject
        for key in ["measured_makespan_ms", "simulated_makespan_ms", "measured_bubble_fraction", "simulated_bubble_fraction", "peak_activations"] {
            #expect(json[key] != nil, "missing \(key)")
        }
    }

    @Test func mismatchedShapesAreClearErrors() throws {
        let s = try Self.schedule(.oneFOneB, ranks: 2, microbatches: 2)
        let stack = TinyStack(width: 3, layers: 4, parts: 3, seed: 1)
        #expect(throws: TrainingError.invalidPipeline("the model is cut into 3 parts but the 1f1b schedule has 2 stages")) {
            _ = try PipelineExecutor(schedule: s, rank: 0, transport: nil, operations: stack)
        }
        let two = TinyStack(width: 3, layers: 4, parts: 2, seed: 1)
        #expect(throws: TrainingError.invalidPipeline("a 2-rank schedule needs a transport")) {
            _ = try PipelineExecutor(schedule: s, rank: 0, transport: nil, operations: two)
        }
        let executor = try PipelineExecutor(schedule: try Self.schedule(.gpipe, ranks: 1, microbatches: 2), rank: 0, transport: nil,
                                            operations: TinyStack(width: 3, layers: 2, parts: 1, seed: 1))
        #expect(throws: TrainingError.invalidPipeline("the step has 1 micro-batches but the schedule 2")) {
            _ = try executor.step([TinyBatch.make(index: 0, rows: 1, width: 3, seed: 1)], lossScale: 1)
        }
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var results: [Result<TinyRun.Result, any Error>?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<TinyRun.Result, any Error>) { lock.withLock { results[index] = value } }
}

struct UncheckedBox: @unchecked Sendable {
    let endpoint: LoopbackTransport
}
