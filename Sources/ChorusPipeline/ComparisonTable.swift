/// Every schedule family on the same P, M and costs, side by side; a family whose shape rules reject P or M
/// keeps its row with the reason instead of a number.
public struct ComparisonTable: Sendable {
    /// One row: a family and its report, or why it could not run.
    public struct Row: Sendable {
        /// Schedule family.
        public var kind: ScheduleKind
        /// Its report, or the one-line reason it could not be generated or simulated.
        public var outcome: Result<SimulationReport, PipelineError>
    }

    /// Rows in `ScheduleKind.allCases` order.
    public var rows: [Row]

    /// Generates, validates and simulates every family; `virtualStages` applies to interleaved only.
    public init(ranks: Int, microbatches: Int, virtualStages: Int?, costs: CostModel, overlap: Bool) {
        rows = ScheduleKind.allCases.map { kind in
            Row(kind: kind, outcome: Result {
                try simulate(ScheduleRequest(kind: kind, ranks: ranks, microbatches: microbatches,
                                             virtualStages: kind == .interleaved ? virtualStages : nil, pairForOverlap: overlap),
                             costs: costs, overlap: overlap)
            }.mapError { $0 as? PipelineError ?? .invalidShape("\($0)") })
        }
    }

    /// A Markdown table (pastes into a README as is).
    public var markdown: String {
        let header = ["schedule", "makespan", "bubble", "peak activations", "exposed comm", "hidden comm"]
        var lines = [Self.row(header), Self.row(["---", "---:", "---:", "---", "---:", "---:"])]
        for row in rows {
            let name = row.kind == .interleaved ? "interleaved" : row.kind.rawValue
            switch row.outcome {
            case .success(let r):
                let label = row.kind == .interleaved ? "\(name) (V=\(r.chunksPerRank))" : name
                lines.append(Self.row([label, formatFixed(r.makespan, decimals: 2), formatFixed(r.bubbleFraction * 100, decimals: 1) + "%",
                                       Self.abbreviated(r.peakActivations),
                                       formatFixed(r.exposedComm, decimals: 2), formatFixed(r.hiddenComm, decimals: 2)]))
            case .failure(let error):
                lines.append(Self.row([name, "n/a", "n/a", error.description.replacingPipes, "", ""]))
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    /// Per-stage values, shortened to the first three and last two past eight stages.
    private static func abbreviated(_ values: [Int]) -> String {
        let shown = values.count > 8 ? values.prefix(3).map(String.init) + ["…"] + values.suffix(2).map(String.init) : values.map(String.init)
        return shown.joined(separator: " ")
    }
}

/// Generates, validates and simulates one schedule: the path the CLI and the comparison table share.
public func simulate(_ request: ScheduleRequest, costs: CostModel, overlap: Bool) throws -> SimulationReport {
    SimulationReport(try simulateTimeline(request, costs: costs, overlap: overlap))
}

/// Like `simulate` but returns the timeline (for drawing).
public func simulateTimeline(_ request: ScheduleRequest, costs: CostModel, overlap: Bool) throws -> Timeline {
    let schedule = try Schedule.generate(request)
    try Validator.validate(schedule)
    let timeline = try Simulator(costs: costs, overlap: overlap).run(schedule)
    let problems = Validator.problems(in: timeline)
    if !problems.isEmpty { throw PipelineError.invalidSchedule(problems) }
    return timeline
}

extension String {
    fileprivate var replacingPipes: String { String(map { $0 == "|" ? "/" : $0 }) }
}
