import ChorusModels
import Foundation

/// Time of one forward pass of W rows, as speculative verification runs it: W causal rows after a
/// committed prefix, logits for every row. Shows how well products of a few activation rows reuse
/// each weight block (ideal: W rows cost little more than one while decode is bandwidth bound).
public struct WidthSweep {
    public struct Point: Sendable {
        public var width: Int
        /// Milliseconds per forward pass of `width` rows (wall time).
        public var milliseconds: Statistic
        /// Milliseconds of this process's CPU time (user + system) per forward pass: on a shared,
        /// loaded machine the steadier figure with one thread (workers that spin count with more).
        public var cpuMilliseconds: Statistic
    }

    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    /// - Parameters:
    ///   - widths: rows per forward pass (each at most the model's `maxBatch`).
    ///   - prefix: committed tokens before the measured rows.
    public func run(widths: [Int], prefix: Int = 16, repetitions: Int) throws -> [Point] {
        let transformer = model.transformer
        let vocabulary = model.config.vocabularySize
        var random = SeededGenerator(seed: 2)
        let widest = widths.max() ?? 1
        let tokens = (0..<prefix + widest).map { _ in Int(random.next() % UInt64(vocabulary)) }
        let cache = model.makeCache()
        guard prefix + widest <= cache.capacity else {
            throw EngineError.promptTooLong(tokens: prefix + widest, context: cache.capacity)
        }
        cache.trim(to: 0)
        _ = try transformer.forward(.sequence(Array(tokens[0..<prefix]), start: 0, logits: .none), cache: cache)
        func once(_ width: Int) throws -> (wall: Double, cpu: Double) {
            cache.trim(to: prefix)
            let cpuStart = Self.processCPUSeconds()
            let start = ContinuousClock.now
            _ = try transformer.forward(.sequence(Array(tokens[prefix..<prefix + width]), start: prefix, logits: .all), cache: cache)
            return ((ContinuousClock.now - start).seconds * 1000, (Self.processCPUSeconds() - cpuStart) * 1000)
        }
        for width in widths { _ = try once(width) }  // warm-up
        var wall = [Int: [Double]](), cpu = [Int: [Double]]()
        // Widths interleaved within each repetition, so drifting load hits them alike.
        for _ in 0..<max(1, repetitions) {
            for width in widths {
                let (w, c) = try once(width)
                wall[width, default: []].append(w)
                cpu[width, default: []].append(c)
            }
        }
        return widths.map { Point(width: $0, milliseconds: Statistic(wall[$0] ?? []), cpuMilliseconds: Statistic(cpu[$0] ?? [])) }
    }

    /// User + system CPU time of this process.
    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
