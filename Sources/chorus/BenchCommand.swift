import ArgumentParser
import Chorus
import ChorusDistributed
import ChorusModels
import ChorusRuntime
import Foundation

/// `chorus bench`: prefill and decode speed as llama-bench measures them (pp/tg), peak memory, and
/// how close decode comes to the memory-bandwidth bound.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure prefill and decode tokens/s (llama-bench's pp and tg), or plain against speculative decoding over --prompts.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var distributed: DistributedOptions
    @Option(name: .customShort("p"), help: "Prompt tokens to process (pp).", range: 0...NumberArgument.maxTokens) var promptTokens: Int = 128
    @Option(name: .customShort("n"), help: "Tokens to generate (tg).", range: 0...NumberArgument.maxTokens) var generateTokens: Int = 64
    @Option(name: .customShort("r"), help: "Repetitions.", range: 1...1000) var repetitions: Int = 5
    @Flag(help: "Print time per operator class.") var profile = false
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var speculative: SpeculativeBenchOptions
    @Option(parsing: .unconditional, help: "Instead of pp/tg, time one forward pass of W rows for each W (comma-separated, e.g. 1,2,4,8,16), as tree verification runs it.")
    var widths: String?

    func validate() throws {
        if speculative.plan != nil { return try validatePlan() }
        guard promptTokens + generateTokens > 0 else { throw ValidationError("-p and -n must not both be 0") }
        if widths != nil { _ = try parsedWidths() }
    }

    func parsedWidths() throws -> [Int] {
        let parts = (widths ?? "").split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && (1...512).contains($0!) }) else {
            throw ValidationError("--widths takes comma-separated row counts between 1 and 512, e.g. 1,2,4,8,16")
        }
        return parts.map { $0! }
    }

    /// `--widths`: milliseconds per forward pass of W rows.
    func runWidths() throws {
        let list = try parsedWidths()
        var opts = options
        let prefix = 16
        opts.context = max(options.context ?? 0, prefix + (list.max() ?? 1))
        let model = try opts.load(maxBatch: max(64, list.max() ?? 1))
        let points = try WidthSweep(model: model).run(widths: list, prefix: prefix, repetitions: repetitions)
        if json {
            try Output.json(["model": options.model, "threads": options.threads, "prefix": prefix,
                             "forward_milliseconds": points.map { ["width": $0.width, "mean": $0.milliseconds.mean, "std": $0.milliseconds.std,
                                                                  "cpu_mean": $0.cpuMilliseconds.mean, "cpu_std": $0.cpuMilliseconds.std] }])
            return
        }
        print("model: \(options.model)  threads: \(options.threads)  (\(repetitions) repetitions, \(prefix)-token prefix, logits for every row)")
        let one = points.first { $0.width == 1 }?.milliseconds.mean
        for p in points {
            let ratio = one.map { String(format: "  %5.2fx width 1", p.milliseconds.mean / $0) } ?? ""
            print(String(format: "width %3d %9.2f ± %.2f ms per forward%@   (cpu %.2f ms)", p.width, p.milliseconds.mean,
                         p.milliseconds.std, ratio, p.cpuMilliseconds.mean))
        }
    }

    func run() throws {
        if let plan = speculative.plan, let prompts = speculative.prompts { return try run(planPath: plan, promptsPath: prompts) }
        if speculative.prompts != nil { return try runSpeculative() }
        if widths != nil { return try runWidths() }
        var opts = options
        opts.context = max(options.context ?? 0, promptTokens + generateTokens)
        try ModelRun.start(distributed.run(opts, maxBatch: 128)).drive(measure)
    }

    private func measure(_ loaded: LanguageModel) throws {
        let profiler = profile ? OperatorProfiler() : nil
        let model = try loaded.with { $0.profiler = profiler }
        let result = try Benchmark(model: model).run(promptTokens: promptTokens, generateTokens: generateTokens,
                                                      repetitions: repetitions)
        let bandwidth = MemoryBandwidth.measureRead(pool: model.transformer.pool)
        let bound = bandwidth / Double(result.bytesPerToken)
        let fraction = result.decode.mean / bound
        if json {
            var object: [String: Any] = [
                "model": options.model, "threads": options.threads,
                "prefill_tokens_per_second": ["mean": result.prefill.mean, "std": result.prefill.std],
                "decode_tokens_per_second": ["mean": result.decode.mean, "std": result.decode.std],
                "peak_memory_bytes": result.peakMemoryBytes,
                "prompt_tokens": promptTokens, "generate_tokens": generateTokens, "repetitions": repetitions,
                "weight_bytes_per_token": result.bytesPerToken, "read_bandwidth_bytes_per_second": bandwidth,
                "bandwidth_bound_fraction": fraction,
            ]
            if let profiler { object["profile_seconds"] = Dictionary(uniqueKeysWithValues: profiler.nanoseconds.map { ("\($0.key)", Double($0.value) / 1e9) }) }
            try Output.json(object)
            return
        }
        print("model: \(options.model)  threads: \(options.threads)  (\(repetitions) repetitions)")
        print(String(format: "pp%-4d %8.1f ± %.1f tokens/s", promptTokens, result.prefill.mean, result.prefill.std))
        print(String(format: "tg%-4d %8.1f ± %.1f tokens/s", generateTokens, result.decode.mean, result.decode.std))
        print(String(format: "peak memory %.1f MiB", Double(result.peakMemoryBytes) / 1048576))
        print(String(format: "decode reads %.1f MiB of weights per token; read bandwidth %.1f GB/s -> bound %.1f tokens/s; reached %.0f%%",
                     Double(result.bytesPerToken) / 1048576, bandwidth / 1e9, bound, 100 * fraction))
        if let profiler {
            let total = Double(profiler.nanoseconds.values.reduce(0, +))
            print("time per operator class (all repetitions):")
            for (op, ns) in profiler.nanoseconds.sorted(by: { $0.value > $1.value }) {
                print(String(format: "  %-22@ %8.1f ms  %5.1f%%  %7d calls", "\(op)" as NSString, Double(ns) / 1e6,
                             100 * Double(ns) / total, profiler.calls[op] ?? 0))
            }
        }
    }
}
