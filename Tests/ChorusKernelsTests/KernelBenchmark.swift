import ChorusGGUF
import ChorusKernels
import Foundation
import Testing

/// MatMul throughput per weight type, single-threaded, printed as a table. Off unless
/// CHORUS_KERNEL_BENCH=1; meant for release builds:
///   CHORUS_KERNEL_BENCH=1 swift test -c release --filter kernelThroughput
/// GEMV (1 activation row) is reported as GB/s of weights streamed, GEMM (64 rows) as GFLOP/s
/// (2 * rows * columns * 64 per product). The activation quantisation is not timed.
/// CHORUS_BENCH_ROWS / CHORUS_BENCH_COLUMNS change the shape (default 2048 x 4096),
/// CHORUS_BENCH_TYPES=Q4_K,Q6_K limits the types.
extension MatMulPathTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHORUS_KERNEL_BENCH"] == "1"))
    func kernelThroughput() {
        let rows = Int(ProcessInfo.processInfo.environment["CHORUS_BENCH_ROWS"] ?? "") ?? 2048
        let columns = Int(ProcessInfo.processInfo.environment["CHORUS_BENCH_COLUMNS"] ?? "") ?? 4096
        print("MatMul \(rows) x \(columns), one thread; GEMV: GB/s of weights, GEMM (64 rows): GFLOP/s")
        print("type  path      MB     GEMV GB/s  GEMV us  GEMM GFLOP/s  GEMM ms")
        let only = ProcessInfo.processInfo.environment["CHORUS_BENCH_TYPES"]?.split(separator: ",").map(String.init)
        for type in int8Types where only?.contains(type.name) ?? true {
            let test = ProductCase(type, rows: rows, columns: columns, xRows: 64, seed: 1)
            let q = test.activations()
            var y = [Float](repeating: 0, count: 64 * rows)
            let megabytes = Double(rows * type.rowBytes(columns: columns)!) / 1e6
            forEachPath { path in
                test.withMatrix { w in
                    y.withUnsafeMutableBufferPointer { out in
                        let gemv = bestSeconds { MatMul.multiply(w, q, xRows: 1, into: out.baseAddress!, yStride: rows, rows: 0..<rows) }
                        let gemm = path == .swift ? .nan : bestSeconds {
                            MatMul.multiply(w, q, xRows: 64, into: out.baseAddress!, yStride: rows, rows: 0..<rows)
                        }
                        let flops = 2.0 * Double(rows * columns) * 64
                        print(String(format: "%-5@ %-8@ %6.2f  %9.1f  %7.0f  %12.1f  %7.2f", type.name, "\(path)", megabytes,
                                     megabytes / 1e3 / gemv, gemv * 1e6, flops / gemm / 1e9, gemm * 1e3))
                    }
                }
            }
        }
    }
}

/// The fastest of several timed runs, each repeating `body` for at least 50 ms of this thread's CPU
/// time (not wall time: the machine is shared, and time spent descheduled is not the kernel's).
private func bestSeconds(_ body: () -> Void) -> Double {
    func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    body()
    var best = Double.infinity
    for _ in 0..<5 {
        var n = 0
        let start = cpuSeconds()
        var elapsed = 0.0
        repeat {
            body()
            n += 1
            elapsed = cpuSeconds() - start
        } while elapsed < 0.05
        best = min(best, elapsed / Double(n))
    }
    return best
}

/// Small-width products (speculative verification): time per product at each width, single
/// thread, default path, and the cost relative to width 1. Off unless CHORUS_KERNEL_BENCH=1;
/// CHORUS_BENCH_WIDTHS (default 1,2,3,4,5,8,16), CHORUS_BENCH_ROWS / CHORUS_BENCH_COLUMNS
/// (default 1536 x 1536, qwen2.5-1.5b's attention output) and CHORUS_BENCH_TYPES as above;
/// CHORUS_KERNEL_PATH forces a path (see `KernelPaths`).
extension MatMulPathTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHORUS_KERNEL_BENCH"] == "1"))
    func kernelWidthSweep() {
        let env = ProcessInfo.processInfo.environment
        let rows = Int(env["CHORUS_BENCH_ROWS"] ?? "") ?? 1536
        let columns = Int(env["CHORUS_BENCH_COLUMNS"] ?? "") ?? 1536
        let widths = (env["CHORUS_BENCH_WIDTHS"] ?? "1,2,3,4,5,8,16").split(separator: ",").compactMap { Int($0) }
        let only = env["CHORUS_BENCH_TYPES"]?.split(separator: ",").map(String.init)
        let original = MatMul.path
        defer { MatMul.setPath(original) }
        if let forced = KernelPaths.forced().path { MatMul.setPath(forced) }
        print("MatMul \(rows) x \(columns), one thread, path \(MatMul.path): microseconds per product (x width 1)")
        for type in int8Types where only?.contains(type.name) ?? true {
            let test = ProductCase(type, rows: rows, columns: columns, xRows: widths.max() ?? 1, seed: 1)
            let q = test.activations()
            var y = [Float](repeating: 0, count: (widths.max() ?? 1) * rows)
            var line = String(format: "%-5@", type.name)
            var one = 0.0
            test.withMatrix { w in
                y.withUnsafeMutableBufferPointer { out in
                    for width in widths {
                        let t = bestSeconds { MatMul.multiply(w, q, xRows: width, into: out.baseAddress!, yStride: rows, rows: 0..<rows) }
                        if width == widths.first { one = t }
                        line += String(format: "  w%d %6.0f (%5.2fx)", width, t * 1e6, t / one)
                    }
                }
            }
            print(line)
        }
    }
}
