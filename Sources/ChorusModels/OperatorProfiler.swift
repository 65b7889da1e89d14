import ChorusGGUF
#if canImport(Glibc)
import Glibc
#endif

/// Operator classes that `chorus bench --profile` reports time for.
public enum OperatorKind: Hashable, Sendable, CustomStringConvertible {
    case embedding, norm, rope, attention, quantize, sampling, lora
    case matmul(GGMLType)

    public var description: String {
        switch self {
        case .embedding: return "embedding"
        case .norm: return "norm+residual"
        case .rope: return "bias/rope/kv-write"
        case .attention: return "attention"
        case .quantize: return "quantize"
        case .sampling: return "sampling"
        case .lora: return "lora"
        case .matmul(let type): return "matmul \(type)"
        }
    }
}

/// Accumulates wall time per operator class (monotonic clock, nanoseconds).
public final class OperatorProfiler: @unchecked Sendable {
    public private(set) var nanoseconds: [OperatorKind: UInt64] = [:]
    public private(set) var calls: [OperatorKind: Int] = [:]

    public init() {}

    @inline(__always)
    public func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public func record(_ op: OperatorKind, since start: UInt64) {
        nanoseconds[op, default: 0] += now() - start
        calls[op, default: 0] += 1
    }

    public func reset() {
        nanoseconds = [:]
        calls = [:]
    }
}
