import ChorusPipeline
import Foundation
import Testing
@testable import ChorusDistributed

/// A trace that runs exactly as the simulator models it replays to the same makespan and bubble.
@Suite struct TraceTimelineTests {
    /// Two stages, three micro-batches, compute 10 ms (stage 0) and 20 ms (stage 1), transfers 1 ms.
    func regularTrace() -> Trace {
        var stage0: [TraceEvent] = [], stage1: [TraceEvent] = []
        var free1 = 0.0
        for m in 0..<3 {
            let start0 = Double(m) * 0.010
            stage0.append(TraceEvent(kind: .compute, forward: 0, microbatch: m, start: start0, end: start0 + 0.010))
            stage0.append(TraceEvent(kind: .send, forward: 0, microbatch: m, start: start0 + 0.010, end: start0 + 0.011, peer: 1))
            let arrival = start0 + 0.011
            let begin = max(arrival, free1)
            stage1.append(TraceEvent(kind: .wait, forward: 0, microbatch: m, start: free1, end: begin, peer: 0))
            stage1.append(TraceEvent(kind: .compute, forward: 0, microbatch: m, start: begin, end: begin + 0.020))
            free1 = begin + 0.020
        }
        return Trace(model: "test", layout: RankLayout(stages: 2, slices: 1), stageMap: StageMap(ranges: [0..<1, 1..<2]),
                     threadsPerRank: 1, ranks: [stage0, stage1])
    }

    @Test func measuredAndSimulatedAgreeOnARegularRun() throws {
        let view = try TraceTimeline(trace: regularTrace())
        #expect(view.microbatches == 3)
        #expect(view.stageCompute.map { ($0 * 1000).rounded() / 1000 } == [10, 20])
        #expect(abs(view.transferTime - 1) < 1e-9)
        let measured = try view.measured(), simulated = try view.simulated()
        // 10 (stage 0, mb 0) + 1 (transfer) + 3 x 20 (stage 1) = 71 ms.
        #expect(abs(measured.makespan - 71) < 1e-6)
        #expect(abs(simulated.makespan - 71) < 1e-6)
        #expect(abs(SimulationReport(measured).bubbleFraction - SimulationReport(simulated).bubbleFraction) < 1e-9)
        // Forward only: each rank runs F.attn, dispatch, F.mlp, combine per micro-batch, plus its transfers.
        #expect(simulated.schedule.actions.map(\.count) == [15, 15])
    }

    @Test func traceRoundTripsThroughJSON() throws {
        let trace = regularTrace()
        let data = try trace.encoded()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(getpid()).json").path
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try Trace.load(path: path) == trace)
    }
}
