import Foundation

/// How each operator class is split across compute units: a value that the planner makes, the
/// runtime runs and a user can read and edit as JSON.
///
/// Unit k of the plan owns a contiguous share of an operator's output rows proportional to
/// `shares[op][k]`, with boundaries on multiples of the operator's grain. Because every kernel
/// computes a row the same way whoever owns it, any valid plan gives the same bits as any other.
public struct PartitionPlan: Codable, Sendable, Equatable {
    public struct Unit: Codable, Sendable, Equatable {
        public var id: Int
        public var kind: UnitKind
        public var name: String
        public init(id: Int, kind: UnitKind, name: String) {
            self.id = id
            self.kind = kind
            self.name = name
        }
    }

    public var units: [Unit]
    /// Relative share of each unit, per operator class; a missing class splits evenly.
    public var shares: [OperatorClass: [Double]]

    public init(units: [Unit], shares: [OperatorClass: [Double]] = [:]) {
        self.units = units
        self.shares = shares
    }

    /// Even shares over `count` CPU core groups: the plain multi-threaded split.
    public static func uniform(units count: Int) -> PartitionPlan {
        PartitionPlan(units: CPUCoreGroup.perWorker(threads: count).map { Unit(id: $0.id, kind: $0.kind, name: $0.name) })
    }

    public enum PlanError: Error, CustomStringConvertible, Equatable {
        case invalid(String)
        public var description: String {
            switch self {
            case .invalid(let message): return "invalid partition plan: \(message)"
            }
        }
    }

    /// Throws unless every share list has one non-negative finite number per unit and a positive sum.
    public func validate(forUnits expected: Int? = nil) throws {
        guard !units.isEmpty else { throw PlanError.invalid("no compute units") }
        if let expected, expected != units.count {
            throw PlanError.invalid("the plan has \(units.count) units, the runtime \(expected)")
        }
        for (op, list) in shares {
            guard list.count == units.count else {
                throw PlanError.invalid("\(op.rawValue) has \(list.count) shares for \(units.count) units")
            }
            guard list.allSatisfy({ $0.isFinite && $0 >= 0 }), list.reduce(0, +) > 0 else {
                throw PlanError.invalid("\(op.rawValue) shares must be non-negative with a positive sum")
            }
        }
    }

    /// Rows `count` of an operator of class `op` owned by unit `part`, boundaries on multiples of
    /// `grain`. With even shares this is exactly `ThreadPool.share`. Allocation-free.
    @inline(__always)
    public func rows(of count: Int, part: Int, op: OperatorClass, grain: Int = 1) -> Range<Int> {
        let parts = units.count
        guard let list = shares[op] else {
            return ThreadPool.share(of: count, part: part, parts: parts, grain: grain)
        }
        let blocks = (count + grain - 1) / grain
        var total = 0.0
        for s in list { total += s }
        var before = 0.0
        for k in 0..<part { before += list[k] }
        let lower = min(count, Int((Double(blocks) * before / total).rounded()) * grain)
        let upper = part == parts - 1 ? count : min(count, Int((Double(blocks) * (before + list[part]) / total).rounded()) * grain)
        return lower..<max(lower, upper)
    }

    /// Read a plan from JSON, with a readable error for anything malformed.
    public static func load(path: String) throws -> PartitionPlan {
        guard let data = FileManager.default.contents(atPath: path) else { throw PlanError.invalid("cannot read '\(path)'") }
        let plan: PartitionPlan
        do {
            plan = try JSONDecoder().decode(PartitionPlan.self, from: data)
        } catch {
            throw PlanError.invalid("'\(path)' is not a partition plan: \(error)")
        }
        try plan.validate()
        return plan
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

extension OperatorClass: CodingKeyRepresentable {}

extension ThreadPool {
    /// Run `body` on each unit's rows of an operator under `plan` (one pool worker per unit),
    /// passing the unit's index for per-unit scratch. Work of a single grain runs inline.
    public func run(_ count: Int, under plan: PartitionPlan, op: OperatorClass, grain: Int = 1,
                    _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        if threadCount == 1 || plan.units.count == 1 || count <= grain {
            body(0..<count, 0)
            return
        }
        run { k in
            guard k < plan.units.count else { return }
            let range = plan.rows(of: count, part: k, op: op, grain: grain)
            if !range.isEmpty { body(range, k) }
        }
    }
}
