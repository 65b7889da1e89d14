import ArgumentParser
import ChorusDistributed
import ChorusPipeline
import Foundation

/// `chorus pipeline draw TRACE.json --svg OUT.svg`: a measured run drawn like a simulated schedule.
struct PipelineDrawCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draw", abstract: "Draw a --trace of a distributed run as an SVG timeline (measured, and simulated below it).")

    @Argument(help: "A trace written by --trace.") var trace: String
    @Option(help: "Write the SVG here.") var svg: String
    @Option(help: "Which forward pass to draw (default: the one with the most micro-batches).", range: 0...Int(Int32.max)) var forward: Int?
    @Flag(help: "Draw only the measured timeline, not the simulator's replay.") var measuredOnly = false

    func run() throws {
        let view = try TraceTimeline(trace: try Trace.load(path: trace), forward: forward)
        var timelines = [try view.measured()]
        if !measuredOnly { timelines.append(try view.simulated()) }
        do {
            try TimelineSVG().render(timelines).write(toFile: svg, atomically: true, encoding: .utf8)
        } catch {
            throw PipelineCLIError("cannot write \(svg): \(error.localizedDescription)")
        }
        print("forward pass \(view.forward): \(view.trace.layout.stages) stages, \(view.microbatches) micro-batches -> \(svg)")
    }
}

/// `chorus pipeline compare TRACE.json`: measured makespan and bubble against the simulator's for the
/// same measured per-stage costs.
struct PipelineCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Compare a traced run's makespan and bubble with the simulator's prediction for its measured costs.")

    @Argument(help: "A trace written by --trace.") var trace: String
    @Option(help: "Which forward pass (default: the one with the most micro-batches).", range: 0...Int(Int32.max)) var forward: Int?
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let loaded = try Trace.load(path: trace)
        let view = try TraceTimeline(trace: loaded, forward: forward)
        let measured = SimulationReport(try view.measured()), simulated = SimulationReport(try view.simulated())
        let error = (simulated.makespan - measured.makespan) / measured.makespan
        // Communication share: time ranks spent waiting or sending, over rank-time of the pass.
        let comm = view.communicationShare
        if json {
            let object: [String: Any] = [
                "forward": view.forward, "stages": loaded.layout.stages, "microbatches": view.microbatches,
                "measured_makespan_ms": measured.makespan, "simulated_makespan_ms": simulated.makespan,
                "relative_error": error, "measured_bubble_fraction": measured.bubbleFraction,
                "simulated_bubble_fraction": simulated.bubbleFraction, "stage_compute_ms": view.stageCompute,
                "transfer_ms": view.transferTime, "communication_wait_share": comm,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("\(loaded.model): forward pass \(view.forward), \(loaded.layout.stages) stages x \(loaded.layout.slices) slices, \(view.microbatches) micro-batches, \(loaded.threadsPerRank) thread(s) per rank")
        print("stage compute per micro-batch  " + view.stageCompute.map { String(format: "%.2f", $0) }.joined(separator: " / ") + " ms")
        print(String(format: "transfer (send to arrival)      %.3f ms", view.transferTime))
        print(String(format: "makespan   measured %8.2f ms   simulated %8.2f ms   (%+.1f%%)", measured.makespan, simulated.makespan, error * 100))
        print(String(format: "bubble     measured %7.1f%%     simulated %7.1f%%", measured.bubbleFraction * 100, simulated.bubbleFraction * 100))
        print(String(format: "waiting for other ranks: %.1f%% of rank time", comm * 100))
    }
}
