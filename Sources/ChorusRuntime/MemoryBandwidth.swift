import Foundation

/// Measures sustained memory read bandwidth: every thread of the pool streams its share of a buffer
/// far larger than the caches, summing it so the reads cannot be skipped.
public enum MemoryBandwidth {
    /// Bytes per second read by `pool`'s threads together (best of `repetitions` passes).
    public static func measureRead(pool: ThreadPool, bytes: Int = 256 << 20, repetitions: Int = 5) -> Double {
        let count = bytes / MemoryLayout<SIMD8<Float>>.stride
        let buffer = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: count)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: SIMD8<Float>(repeating: 1), count: count)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
        defer { sums.deallocate() }
        var best = 0.0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            pool.parallelForIndexed(count, grain: 4096) { range, thread in
                var a = SIMD8<Float>(), b = SIMD8<Float>(), c = SIMD8<Float>(), d = SIMD8<Float>()
                var i = range.lowerBound
                while i + 4 <= range.upperBound {
                    a += buffer[i]; b += buffer[i + 1]; c += buffer[i + 2]; d += buffer[i + 3]
                    i += 4
                }
                while i < range.upperBound { a += buffer[i]; i += 1 }
                sums[thread] = (a + b + c + d).sum()
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            best = max(best, Double(bytes) / seconds)
        }
        return best
    }
}
