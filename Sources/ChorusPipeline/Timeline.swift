/// Where an action ran on its rank: compute, or the communication lane that runs beside it when overlap is on.
public enum Lane: String, Hashable, Codable, Sendable {
    /// The rank's compute lane; with overlap off, communication blocks it too.
    case compute
    /// The separate communication lane (overlap on only).
    case communication
}

/// One action with the times the simulator gave it.
public struct TimedAction: Hashable, Codable, Sendable {
    /// The action.
    public var action: Action
    /// Lane it occupied.
    public var lane: Lane
    /// When its lane began it (a recv is posted then).
    public var start: Double
    /// When it completed.
    public var end: Double
    /// When it was actually working: a recv's transfer may begin after it was posted; otherwise `start`.
    public var activeStart: Double

    /// Creates a timed action.
    public init(action: Action, lane: Lane, start: Double, end: Double, activeStart: Double) {
        self.action = action
        self.lane = lane
        self.start = start
        self.end = end
        self.activeStart = activeStart
    }
}

/// A simulated run of a schedule: every action's times, in each rank's program order, plus what produced them.
public struct Timeline: Hashable, Codable, Sendable {
    /// The schedule that ran.
    public var schedule: Schedule
    /// The costs it ran with.
    public var costs: CostModel
    /// Whether communication had its own lane.
    public var overlap: Bool
    /// Per rank, the timed actions in program order.
    public var programs: [[TimedAction]]
    /// When the last action completed.
    public var makespan: Double

    /// Creates a timeline (the simulator does; tests and traces may too).
    public init(schedule: Schedule, costs: CostModel, overlap: Bool, programs: [[TimedAction]], makespan: Double) {
        self.schedule = schedule
        self.costs = costs
        self.overlap = overlap
        self.programs = programs
        self.makespan = makespan
    }
}
