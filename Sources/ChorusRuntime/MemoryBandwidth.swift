/// Sustained memory read bandwidth of a whole pool: every worker streams its share of a buffer far
/// larger than the caches (see `HardwareProfiler` for per-unit and contended figures).
public enum MemoryBandwidth {
    /// Bytes per second read by all of `pool`'s workers together (best of three passes).
    public static func measureRead(pool: ThreadPool, bytes: Int = 256 << 20) -> Double {
        HardwareProfiler.readBandwidth(pool: pool, readers: Array(0..<pool.threadCount), bytes: bytes)
    }
}
