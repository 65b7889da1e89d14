import ChorusRuntime

/// How fast one compute unit runs each operator class, in any common unit (rows per second, or
/// relative to another unit): what the partition ratios follow.
public struct UnitSpeed: Sendable, Equatable {
    public var linear: Double
    public var attention: Double
    public var rowwise: Double

    public init(linear: Double, attention: Double, rowwise: Double) {
        self.linear = linear
        self.attention = attention
        self.rowwise = rowwise
    }

    public subscript(op: OperatorClass) -> Double {
        switch op {
        case .linear: return linear
        case .attention: return attention
        case .rowwise: return rowwise
        }
    }
}

/// Partition ratios: every unit of an operator finishes together when its share of the rows is in
/// proportion to its speed, which minimises the operator's time max_k(share_k x work / speed_k).
public enum PartitionPlanner {
    /// Speeds from a hardware profile: linear layers stream weights while every unit reads, so a
    /// unit's speed is its read bandwidth under contention; attention and row-wise work follow it too
    /// (CPU core groups run the same kernels). A GPU unit would bring its own per-class rates.
    public static func speeds(from profile: HardwareProfile) -> [UnitSpeed] {
        profile.units.map { UnitSpeed(linear: $0.readBandwidthContended, attention: $0.readBandwidthContended,
                                      rowwise: $0.readBandwidthContended) }
    }

    /// Shares in proportion to speed per operator class (rounded to 0.001 for a readable plan).
    public static func plan(units: [PartitionPlan.Unit], speeds: [UnitSpeed]) -> PartitionPlan {
        precondition(units.count == speeds.count && !units.isEmpty, "one speed per unit")
        var shares: [OperatorClass: [Double]] = [:]
        for op in OperatorClass.allCases {
            let raw = speeds.map { max(0, $0[op]) }
            let total = raw.reduce(0, +)
            shares[op] = total > 0 ? raw.map { ($0 / total * 1000).rounded() / 1000 } : Array(repeating: 1, count: raw.count)
        }
        return PartitionPlan(units: units, shares: shares)
    }

    /// The plan for the units of `profile`.
    public static func plan(for profile: HardwareProfile) -> PartitionPlan {
        plan(units: profile.units.map { .init(id: $0.id, kind: $0.kind, name: $0.name) }, speeds: speeds(from: profile))
    }

    /// Modelled seconds of an operator of `work` (seconds on a unit of speed 1) split by `shares`:
    /// the slowest unit's time plus one synchronisation.
    public static func operatorSeconds(work: Double, shares: [Double], speeds: [Double], synchronisation: Double) -> Double {
        let total = shares.reduce(0, +)
        var slowest = 0.0
        for (s, v) in zip(shares, speeds) where s > 0 { slowest = max(slowest, s / total * work / max(v, 1e-30)) }
        return slowest + synchronisation
    }
}
