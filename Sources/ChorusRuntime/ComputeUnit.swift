/// The kinds of processor an operator can be split across. CPU core groups exist today; a GPU or NPU
/// that shares memory is another unit with another speed: only the partition ratios change.
public enum UnitKind: String, Codable, Sendable, CaseIterable {
    case cpuCoreGroup = "cpu", gpu, npu
}

/// Classes of operators a plan splits separately, because units differ in how fast they run each.
public enum OperatorClass: String, Codable, Sendable, CaseIterable {
    /// Matrix products over weight rows (projections, FFN, output head).
    case linear
    /// Attention over (row, head) units.
    case attention
    /// Row-wise work: norms, residual adds, activation quantisation, RoPE.
    case rowwise
}

/// A processor that runs its share of an operator's output rows.
public protocol ComputeUnit: Sendable {
    var id: Int { get }
    var kind: UnitKind { get }
    var name: String { get }
    /// Whether this unit has kernels for an operator class (a GPU may lack some).
    func supports(_ op: OperatorClass) -> Bool
}

/// A group of CPU cores, driven by one worker of the thread pool.
public struct CPUCoreGroup: ComputeUnit, Codable, Equatable {
    public let id: Int
    /// Logical CPUs the group's worker is pinned to.
    public let cores: [Int]
    public var kind: UnitKind { .cpuCoreGroup }
    public var name: String { "cpu\(cores.map(String.init).joined(separator: "+"))" }

    public init(id: Int, cores: [Int]) {
        self.id = id
        self.cores = cores
    }

    public func supports(_ op: OperatorClass) -> Bool { true }

    /// One group per worker of a pool of `threads` threads (worker k on core k).
    public static func perWorker(threads: Int) -> [CPUCoreGroup] {
        (0..<max(1, threads)).map { CPUCoreGroup(id: $0, cores: [$0]) }
    }
}
