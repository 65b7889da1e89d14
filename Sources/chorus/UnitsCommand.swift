import ArgumentParser
import ChorusRuntime
import Foundation

/// `chorus units`: the compute units found and what the profiler measures about them.
struct UnitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "units",
        abstract: "List compute units with read bandwidth (alone and under contention) and matrix-product throughput.")

    @Option(name: .shortAndLong, help: "Worker threads, one CPU core group each (default: every core).", range: 1...256)
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let pool = ThreadPool(threads: threads)
        Output.standardError("profiling \(threads) compute unit(s)...")
        let profile = HardwareProfiler.profile(pool: pool)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            FileHandle.standardOutput.write(try encoder.encode(profile) + Data("\n".utf8))
            return
        }
        for unit in profile.units {
            print(String(format: "unit %d  %@ (%@): read %.1f GB/s alone, %.1f GB/s while all units read",
                         unit.id, unit.name, unit.kind.rawValue, unit.readBandwidthAlone / 1e9, unit.readBandwidthContended / 1e9))
        }
        print(String(format: "all units together: %.1f GB/s; one synchronisation: %.1f µs",
                     profile.readBandwidthTotal / 1e9, profile.synchronisationSeconds * 1e6))
        print("matrix products on one unit (1024 x 2048 weights), GB/s of weights | GFLOP/s, by activation rows:")
        let widths = Array(Set(profile.matmul.map(\.width))).sorted()
        print("  type   " + widths.map { String(format: "%14d", $0) }.joined())
        var types: [String] = []
        for rate in profile.matmul where !types.contains(rate.type) { types.append(rate.type) }
        for type in types {
            let cells = widths.map { width -> String in
                guard let r = profile.matmul.first(where: { $0.type == type && $0.width == width }) else { return String(repeating: " ", count: 14) }
                return String(format: "%7.1f|%6.0f", r.bytesPerSecond / 1e9, r.flopsPerSecond / 1e9)
            }
            print("  " + type.padding(toLength: 6, withPad: " ", startingAt: 0) + " " + cells.joined())
        }
    }
}
