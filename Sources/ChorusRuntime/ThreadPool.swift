import CChorusKernels
import Foundation
import Synchronization

/// A persistent pool of worker threads that runs one parallel region at a time.
///
/// Decode issues a few hundred short operators per token, so a region must start and end in a few
/// microseconds: workers spin on a generation counter (then sleep on a condition variable when idle
/// for long), the caller takes share 0 itself, and nothing is allocated per region. Regions must be
/// issued from one thread at a time (the engine's thread); a body must not start another region.
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in a region, the caller included.
    public let threadCount: Int
    private let state: RegionState

    /// - Parameters:
    ///   - threads: threads in a region including the caller (at least 1).
    ///   - pin: pin worker k to CPU k and the calling thread to CPU 0, so none migrates mid-token.
    public init(threads: Int, pin: Bool = true) {
        threadCount = max(1, threads)
        state = RegionState()
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let shouldPin = pin && threadCount <= cpus && threadCount > 1
        for index in 1..<threadCount {
            let state = self.state
            let thread = Thread {
                if shouldPin { _ = chorus_pin_current_thread(Int32(index % cpus)) }
                state.workerLoop(index: index)
            }
            thread.stackSize = 1 << 20
            thread.name = "chorus-worker-\(index)"
            thread.start()
        }
        if shouldPin { _ = chorus_pin_current_thread(0) }
    }

    deinit { state.stop() }

    /// Run `body(k)` for k in 0..<threadCount, k = 0 on the calling thread; returns when all are done.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            state.start(escapable, workers: threadCount - 1)
            escapable(0)
            state.waitForWorkers()
        }
    }

    /// Part `part` of `parts` of `0..<count`, boundaries on multiples of `grain`.
    public static func share(of count: Int, part: Int, parts: Int, grain: Int = 1) -> Range<Int> {
        guard part < parts else { return count..<count }
        let units = (count + grain - 1) / grain
        let lower = min(count, units * part / parts * grain)
        let upper = min(count, units * (part + 1) / parts * grain)
        return lower..<upper
    }
}

/// What the caller and the workers share; outlives the pool until every worker has left.
private final class RegionState: @unchecked Sendable {
    let generation = Atomic<Int>(0)
    let remaining = Atomic<Int>(0)
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    var body: ((Int) -> Void)?
    let condition = NSCondition()
    /// Spins before an idle worker sleeps (about a millisecond).
    let spinLimit = 20_000

    func start(_ body: @escaping (Int) -> Void, workers: Int) {
        self.body = body
        remaining.store(workers, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        wakeSleepers()
    }

    func waitForWorkers() {
        while remaining.load(ordering: .acquiring) > 0 { chorus_cpu_relax() }
        body = nil
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        wakeSleepers()
    }

    private func wakeSleepers() {
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
    }

    func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                if spins < spinLimit {
                    chorus_cpu_relax()
                    spins += 1
                    continue
                }
                condition.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                condition.unlock()
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            body?(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
