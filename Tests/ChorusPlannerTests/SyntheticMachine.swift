import ChorusPlanner
import ChorusRuntime

/// A made-up machine and model with round numbers, for planner tests.
enum SyntheticMachine {
    /// Two units; one unit streams weights at `rate(width)` bytes/s through products; 20 GB/s total.
    static func profile(units: Int = 2, bandwidth: Double = 20e9, synchronisation: Double = 2e-6,
                        rate: (Int) -> Double = { 8e9 / Double($0) }) -> HardwareProfile {
        HardwareProfile(
            units: (0..<units).map { .init(id: $0, kind: .cpuCoreGroup, name: "cpu\($0)", readBandwidthAlone: bandwidth * 0.7,
                                           readBandwidthContended: bandwidth / Double(units)) },
            readBandwidthTotal: bandwidth, synchronisationSeconds: synchronisation,
            matmul: [1, 2, 4, 8, 16, 32, 64].map { w in
                .init(type: "Q4_K", width: w, seconds: 1e6 / rate(w), bytesPerSecond: rate(w), flopsPerSecond: rate(w) * 3.5 * Double(w))
            })
    }

    /// A 1 GB model in 100 matrices plus a 0.2 GB output head.
    static func target(measured: [ForwardCost.Sample] = []) -> ForwardCost {
        var matrices = (0..<100).map { _ in MatrixRead(type: "Q4_K", rows: 4096, columns: 4096, bytes: 10_000_000) }
        matrices.append(MatrixRead(type: "Q4_K", rows: 150_000, columns: 1536, bytes: 200_000_000, isOutputHead: true))
        return ForwardCost(model: "synthetic", matrices: matrices, regions: 200, measured: measured)
    }
}
