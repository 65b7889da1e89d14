import ChorusModels
import ChorusRuntime
import Foundation

/// Mean and sample standard deviation of repeated measurements.
public struct Statistic: Sendable, Codable {
    public var mean: Double
    public var std: Double

    public init(_ samples: [Double]) {
        mean = samples.isEmpty ? 0 : samples.reduce(0, +) / Double(samples.count)
        let m = mean
        std = samples.count > 1 ? (samples.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(samples.count - 1)).squareRoot() : 0
    }
}

/// llama-bench's two measurements: prompt processing of `promptTokens` tokens (pp) and generation of
/// `generateTokens` tokens one at a time (tg), each from an empty cache, repeated after a warm-up.
public struct Benchmark {
    public struct Result: Sendable {
        public var prefill: Statistic
        public var decode: Statistic
        public var peakMemoryBytes: Int
        /// Weight bytes one decode step reads.
        public var bytesPerToken: Int
    }

    public let model: LanguageModel

    public init(model: LanguageModel) { self.model = model }

    public func run(promptTokens: Int, generateTokens: Int, repetitions: Int) throws -> Result {
        let transformer = model.transformer
        let vocabulary = model.config.vocabularySize
        // Deterministic token ids spread over the vocabulary (llama-bench uses random ones).
        var random = SeededGenerator(seed: 1)
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(vocabulary)) }
        let cache = model.makeCache()
        guard promptTokens + generateTokens <= cache.capacity else {
            throw EngineError.promptTooLong(tokens: promptTokens + generateTokens, context: cache.capacity)
        }
        func prefill() throws -> Double {
            cache.trim(to: 0)
            let start = ContinuousClock.now
            _ = try model.forwardPass.forward(.sequence(prompt, start: 0, logits: .last), cache: cache)
            return (ContinuousClock.now - start).seconds
        }
        // Decoding as generation runs it (the decode loop, greedy): one forward pass of one row per
        // token from an empty cache, through end-of-generation tokens.
        let loop = try DecodeLoop(model: model)
        var job = SequenceJob(promptIDs: [prompt.first ?? 0], maxTokens: generateTokens)
        job.ignoreEndOfGeneration = true
        func decode() throws -> Double {
            cache.trim(to: 0)
            let sequence = try loop.sequence(job, cache: cache)
            let start = ContinuousClock.now
            try loop.run([sequence])
            return (ContinuousClock.now - start).seconds
        }
        // Warm-up: touch every weight page once.
        if promptTokens > 0 { _ = try prefill() }
        if generateTokens > 0 { _ = try decode() }
        var prefillRates: [Double] = [], decodeRates: [Double] = []
        transformer.context.profiler?.reset()
        for _ in 0..<max(1, repetitions) {
            if promptTokens > 0 { prefillRates.append(Double(promptTokens) / (try prefill())) }
            if generateTokens > 0 { decodeRates.append(Double(generateTokens) / (try decode())) }
        }
        return Result(prefill: Statistic(prefillRates), decode: Statistic(decodeRates),
                      peakMemoryBytes: Self.peakResidentBytes(), bytesPerToken: transformer.bytesPerToken)
    }

    /// Peak resident set size of this process.
    public static func peakResidentBytes() -> Int {
        #if os(Linux)
        let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let RUSAGE_SELF_WHO = RUSAGE_SELF
        #endif
        var usage = rusage()
        getrusage(RUSAGE_SELF_WHO, &usage)
        #if os(Linux)
        return Int(usage.ru_maxrss) * 1024
        #else
        return Int(usage.ru_maxrss)
        #endif
    }
}
