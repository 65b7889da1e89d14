/// Why a schedule could not be built, parsed, simulated or validated; one line, meant for users.
public enum PipelineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The requested shape (stages, micro-batches, virtual stages) does not fit the schedule.
    case invalidShape(String)
    /// A `--costs` string that does not parse.
    case invalidCosts(String)
    /// The schedule cannot finish: some rank waits forever.
    case deadlock(String)
    /// The schedule is unsound; each string names one violated rule.
    case invalidSchedule([String])
    /// Measured costs were requested but could not be produced.
    case costSourceUnavailable(String)

    public var description: String {
        switch self {
        case .invalidShape(let s), .invalidCosts(let s), .costSourceUnavailable(let s): s
        case .deadlock(let s): "deadlock: \(s)"
        case .invalidSchedule(let problems):
            problems.count == 1 ? problems[0] : "\(problems[0]) (and \(problems.count - 1) more problems)"
        }
    }
}
