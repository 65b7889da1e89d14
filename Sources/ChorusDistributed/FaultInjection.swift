import Foundation

/// Failures the tests provoke on one rank, named by the environment variable CHORUS_TEST_FAULT:
/// `load@R` (rank R fails to load its part) or `die@R:N` (rank R exits abruptly, as if killed,
/// when its N-th micro-batch arrives). Unset in normal runs; read once.
struct FaultInjection {
    enum Fault: Equatable { case load, die(afterMicrobatches: Int) }

    let fault: Fault?

    init(rank: Int, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let spec = environment["CHORUS_TEST_FAULT"] else {
            fault = nil
            return
        }
        let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            fault = nil
            return
        }
        let target = parts[1].split(separator: ":").map(String.init)
        guard let r = Int(target[0]), r == rank else {
            fault = nil
            return
        }
        switch parts[0] {
        case "load": fault = .load
        case "die": fault = .die(afterMicrobatches: target.count > 1 ? Int(target[1]) ?? 1 : 1)
        default: fault = nil
        }
    }

    static let injectedLoadFailure = DistributedError.invalidSetup("injected load failure (CHORUS_TEST_FAULT)")
}
