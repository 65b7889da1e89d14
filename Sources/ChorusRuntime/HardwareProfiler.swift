import ChorusGGUF
import ChorusKernels
import Foundation

/// Measures what a partition planner needs to know about this machine's compute units: read
/// bandwidth of one unit alone and of all units at once (they share the memory bus), the cost of
/// one synchronisation, and how fast one unit runs a matrix product per weight type and width.
public struct HardwareProfile: Codable, Sendable {
    public struct Unit: Codable, Sendable {
        public var id: Int
        public var kind: UnitKind
        public var name: String
        /// Read bandwidth with this unit alone, bytes/s.
        public var readBandwidthAlone: Double
        /// This unit's read bandwidth while every unit reads at once, bytes/s.
        public var readBandwidthContended: Double

        public init(id: Int, kind: UnitKind, name: String, readBandwidthAlone: Double, readBandwidthContended: Double) {
            self.id = id
            self.kind = kind
            self.name = name
            self.readBandwidthAlone = readBandwidthAlone
            self.readBandwidthContended = readBandwidthContended
        }
    }
    public struct MatmulRate: Codable, Sendable {
        public var type: String
        /// Activation rows per product (1 = decode, more = prefill or tree verification).
        public var width: Int
        public var seconds: Double
        /// Weight bytes streamed per second.
        public var bytesPerSecond: Double
        /// Multiply-adds x 2 per second.
        public var flopsPerSecond: Double

        public init(type: String, width: Int, seconds: Double, bytesPerSecond: Double, flopsPerSecond: Double) {
            self.type = type
            self.width = width
            self.seconds = seconds
            self.bytesPerSecond = bytesPerSecond
            self.flopsPerSecond = flopsPerSecond
        }
    }
    public var units: [Unit]
    /// All units reading together, bytes/s.
    public var readBandwidthTotal: Double
    /// One parallel region with empty work, seconds.
    public var synchronisationSeconds: Double
    /// Per weight type and width, one unit alone.
    public var matmul: [MatmulRate]

    public init(units: [Unit], readBandwidthTotal: Double, synchronisationSeconds: Double, matmul: [MatmulRate]) {
        self.units = units
        self.readBandwidthTotal = readBandwidthTotal
        self.synchronisationSeconds = synchronisationSeconds
        self.matmul = matmul
    }
}

public enum HardwareProfiler {
    /// Profile the units of `pool` (one CPU core group per worker).
    /// - Parameters:
    ///   - types: weight types to time; widths: activation rows per product.
    ///   - bandwidthBytes: buffer size of the bandwidth probe (much larger than the caches).
    public static func profile(pool: ThreadPool, types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K],
                               widths: [Int] = [1, 2, 4, 8, 16, 32, 64], bandwidthBytes: Int = 256 << 20,
                               rows: Int = 1024, columns: Int = 2048) -> HardwareProfile {
        let unitCount = pool.threadCount
        // Bandwidth: unit k alone (others idle), then all together.
        let alone = (0..<unitCount).map { k in readBandwidth(pool: pool, readers: [k], bytes: bandwidthBytes) }
        let together = readBandwidth(pool: pool, readers: Array(0..<unitCount), bytes: bandwidthBytes)
        let units = CPUCoreGroup.perWorker(threads: unitCount).map { group in
            HardwareProfile.Unit(id: group.id, kind: group.kind, name: group.name,
                                 readBandwidthAlone: alone[group.id], readBandwidthContended: together / Double(unitCount))
        }
        // Synchronisation: median of many empty regions.
        var syncs: [Double] = []
        for _ in 0..<200 {
            let start = ContinuousClock.now
            pool.run { _ in }
            syncs.append(seconds(since: start))
        }
        syncs.sort()
        // Matrix products on one unit (the calling thread), synthetic weights with sane scales.
        var rates: [HardwareProfile.MatmulRate] = []
        for type in types {
            guard MatMul.supports(type), let rowBytes = type.rowBytes(columns: columns) else { continue }
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: rows * rowBytes, alignment: 64)
            defer { bytes.deallocate() }
            fillSyntheticWeights(bytes, type: type, count: rows * rowBytes)
            let w = WeightMatrix(name: "probe", type: type, rows: rows, columns: columns, data: UnsafeRawPointer(bytes))
            let maxWidth = widths.max() ?? 1
            let x = QuantizedActivations(maxRows: maxWidth, columns: columns, formats: MatMul.activationFormats(for: [type]))
            var input = [Float](repeating: 0, count: columns)
            for i in 0..<columns { input[i] = Float((i * 7919) % 200 - 100) / 100 }
            input.withUnsafeBufferPointer { for r in 0..<maxWidth { x.quantize(row: r, from: $0.baseAddress!) } }
            let y = UnsafeMutablePointer<Float>.allocate(capacity: maxWidth * rows)
            defer { y.deallocate() }
            for width in widths {
                MatMul.multiply(w, x, xRows: width, into: y, yStride: rows, rows: 0..<rows)  // warm
                var best = Double.infinity
                for _ in 0..<3 {
                    let start = ContinuousClock.now
                    MatMul.multiply(w, x, xRows: width, into: y, yStride: rows, rows: 0..<rows)
                    best = min(best, seconds(since: start))
                }
                rates.append(.init(type: type.name, width: width, seconds: best,
                                   bytesPerSecond: Double(rows * rowBytes) / best,
                                   flopsPerSecond: 2 * Double(rows * columns * width) / best))
            }
        }
        return HardwareProfile(units: units, readBandwidthTotal: together, synchronisationSeconds: syncs[syncs.count / 2],
                               matmul: rates)
    }

    /// Bytes/s read by the listed pool workers together (best of 3), the others idle.
    static func readBandwidth(pool: ThreadPool, readers: [Int], bytes: Int) -> Double {
        let count = bytes / MemoryLayout<SIMD8<Float>>.stride
        let buffer = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: SIMD8(repeating: 1), count: count)
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
        defer { sink.deallocate() }
        var best = 0.0
        for _ in 0..<3 {
            let start = ContinuousClock.now
            pool.run { k in
                guard let slot = readers.firstIndex(of: k) else { return }
                let range = ThreadPool.share(of: count, part: slot, parts: readers.count, grain: 4096)
                var a = SIMD8<Float>(), b = SIMD8<Float>()
                var i = range.lowerBound
                while i + 2 <= range.upperBound {
                    a += buffer[i]
                    b += buffer[i + 1]
                    i += 2
                }
                sink[k] = (a + b).sum()
            }
            best = max(best, Double(bytes) / seconds(since: start))
        }
        return best
    }

    /// Bytes that form valid blocks of `type` with small finite half-float scales.
    static func fillSyntheticWeights(_ p: UnsafeMutableRawPointer, type: GGMLType, count: Int) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            p.storeBytes(of: UInt8(truncatingIfNeeded: state >> 33), toByteOffset: i, as: UInt8.self)
        }
        // Put a small scale (half 0x2000 ≈ 0.0078) into every half-float field, so no block is NaN/Inf.
        let block = type.bytesPerBlock
        let halfOffsets = type.linearScaleOffsets ?? []
        for b in stride(from: 0, to: count, by: block) {
            for o in halfOffsets { p.storeBytes(of: UInt16(0x2000), toByteOffset: b + o, as: UInt16.self) }
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
