import ArgumentParser
import Chorus
import ChorusPipeline
import Foundation

/// `chorus pipeline`: pipeline-parallel training schedules (generate, validate, simulate, draw).
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Pipeline-parallel schedules: simulate them, and draw or check traces of real distributed runs.",
        subcommands: [PipelineSimulateCommand.self, PipelineDrawCommand.self, PipelineCompareCommand.self])
}

/// Schedule names the CLI accepts; `all` compares every family.
enum PipelineScheduleChoice: String, ExpressibleByArgument, CaseIterable {
    case gpipe
    case oneFOneB = "1f1b"
    case interleaved
    case zeroBubbleH1 = "zb-h1"
    case dualpipe
    case all

    var kind: ScheduleKind? { self == .all ? nil : ScheduleKind(rawValue: rawValue) }
}

/// Whether communication runs on its own lane beside compute.
enum PipelineOverlapChoice: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

/// A one-line failure message for the user (ArgumentParser prints it after "Error:" and exits non-zero).
struct PipelineCLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The source of measured per-layer costs for `--costs-from`: loads MODEL (a catalog id or a .gguf path)
/// and times one layer's forward pass of a 32-token micro-batch on this machine.
func layerCostSource(forModel model: String) throws -> any LayerCostSource {
    let loaded = try LanguageModel.load(model, store: ModelStore(progress: .standardError()))
    return ClosureLayerCostSource(modelName: model, layerCount: loaded.config.layerCount) {
        try LayerTiming.forwardSecondsPerLayer(model: loaded)
    }
}

/// `chorus pipeline simulate`: build a schedule, prove it sound, simulate it and report or draw it.
struct PipelineSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a pipeline schedule and report makespan, bubble, activations and exposed communication.",
        discussion: """
        Costs are per micro-batch per pipeline stage (rank); with V virtual stages each chunk costs 1/V of them \
        (pipeline transfers excepted). A chunk runs attention, EP dispatch, MLP, EP combine; backward runs them \
        in reverse. With --overlap on, communication runs on its own lane and 1f1b/interleaved pair each \
        steady-state forward with a backward so their all-to-alls hide behind each other (dualpipe always pairs); \
        with --overlap off communication blocks compute.
        """)

    @Option(help: "Schedule: gpipe, 1f1b, interleaved, zb-h1, dualpipe, or all (compare every schedule).")
    var schedule: PipelineScheduleChoice

    @Option(help: "Pipeline stages (ranks), P.", range: 1...1_000_000) var stages: Int

    @Option(help: "Micro-batches per training step, M.", range: 1...1_000_000) var microbatches: Int

    @Option(help: "Model chunks per stage for interleaved, V (default 2).", range: 1...1_000_000) var virtual: Int?

    @Option(parsing: .unconditional, help: "Costs per micro-batch per stage: f (forward), b (input grad), w (weight grad), pp (one pipeline send), ep (one all-to-all), attn (attention share of compute). Default f=1,b=2,w=1,pp=0.2,ep=0.5.")
    var costs: String?

    @Option(name: .customLong("costs-from"), help: "Measure one transformer layer's forward time of MODEL on this machine and derive f (b = w = f; pp and ep keep their ratio to f from --costs).")
    var costsFrom: String?

    @Option(help: "Communication on its own lane beside compute (on) or blocking it (off).")
    var overlap: PipelineOverlapChoice = .on

    @Option(help: "Write the timeline as SVG to this file.")
    var svg: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        do {
            try execute()
        } catch let error as PipelineError {
            throw PipelineCLIError(error.description)
        }
    }

    private func execute() throws {
        guard stages >= 1 else { throw PipelineCLIError("--stages must be at least 1 (got \(stages))") }
        guard microbatches >= 1 else { throw PipelineCLIError("--microbatches must be at least 1 (got \(microbatches))") }
        if let v = virtual {
            guard schedule == .interleaved || schedule == .all else {
                throw PipelineCLIError("--virtual applies only to --schedule interleaved (or all), not \(schedule.rawValue)")
            }
            guard v >= 2 else { throw PipelineCLIError("--virtual must be at least 2 (got \(v)); use 1f1b for one chunk per stage") }
        }
        let v = schedule == .interleaved || schedule == .all ? (virtual ?? 2) : 1
        let limit = 1_000_000
        guard stages <= limit, microbatches <= limit, v <= limit, stages * microbatches <= limit, stages * microbatches * v <= limit else {
            throw PipelineCLIError("P=\(stages), M=\(microbatches), V=\(v) is too large to simulate (P x M x V at most \(limit) chunks)")
        }
        var model = try costs.map { try CostModel(parsing: $0) } ?? .standard
        if let path = costsFrom {
            model = try CostModel.measured(from: layerCostSource(forModel: path), ranks: stages, ratios: model)
        }
        let overlapOn = overlap == .on

        if let kind = schedule.kind {
            let request = ScheduleRequest(kind: kind, ranks: stages, microbatches: microbatches,
                                          virtualStages: kind == .interleaved ? v : nil, pairForOverlap: overlapOn)
            let timeline = try simulateTimeline(request, costs: model, overlap: overlapOn)
            let report = SimulationReport(timeline)
            if let svg { try write(TimelineSVG().render([timeline]), to: svg) }
            if json {
                print(ReportJSON.object(report))
            } else {
                printReport(report, timeline.schedule, costs: model)
            }
        } else {
            let table = ComparisonTable(ranks: stages, microbatches: microbatches, virtualStages: v, costs: model, overlap: overlapOn)
            if let svg {
                let timelines = ScheduleKind.allCases.compactMap { kind in
                    try? simulateTimeline(ScheduleRequest(kind: kind, ranks: stages, microbatches: microbatches,
                                                          virtualStages: kind == .interleaved ? v : nil, pairForOverlap: overlapOn),
                                          costs: model, overlap: overlapOn)
                }
                try write(TimelineSVG().render(timelines), to: svg)
            }
            if json {
                print(ReportJSON.comparison(table))
            } else {
                print("P=\(stages) stages, M=\(microbatches) micro-batches, V=\(v) for interleaved, overlap \(overlap.rawValue), costs \(model)")
                print(table.markdown)
                print("bubble = 1 - mean busy compute / makespan; peak activations per stage in chunks; comm times are means per stage")
            }
        }
    }

    private func printReport(_ r: SimulationReport, _ s: Schedule, costs: CostModel) {
        func pct(_ x: Double) -> String { formatNumber(x * 100, decimals: 2) + "%" }
        let chunks = r.chunksPerRank > 1 ? ", \(r.chunksPerRank) chunks per stage" : ""
        print("\(r.schedule.rawValue)\(s.paired ? " (forward/backward pairs overlapped)" : ""): P=\(r.ranks) stages, M=\(r.microbatches) micro-batches\(chunks), overlap \(r.overlap ? "on" : "off")")
        print("costs             \(costs) per micro-batch per stage")
        print("makespan          \(formatNumber(r.makespan))")
        print("bubble fraction   \(formatNumber(r.bubbleFraction)) (\(pct(r.bubbleFraction)))")
        print("peak activations  \(r.peakActivations.map(String.init).joined(separator: " ")) (bound \(r.activationBound.map(String.init).joined(separator: " ")))")
        print("communication     exposed \(formatNumber(r.exposedComm)), hidden \(formatNumber(r.hiddenComm)) (mean per stage)")
        print("validator         sound: \(s.actionCount) actions, dependencies in order, sends matched, no deadlock")
        if let svg { print("timeline          \(svg)") }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw PipelineCLIError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
