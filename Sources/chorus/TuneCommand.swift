import ArgumentParser
import Chorus
import ChorusPlanner
import ChorusRuntime
import Foundation

/// `chorus tune`: find the fastest way to decode a model on this machine and write it as a plan.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Profile, calibrate drafters, search drafter x tree x width, measure the best candidates, write a plan.")

    @Option(name: .shortAndLong, help: "The target model (catalog id or .gguf path).") var model: String = ModelCatalog.defaultModelID
    @Option(help: "Drafters to consider, comma-separated: draft model ids or paths, and `ngram`.") var draft: String = "ngram"
    @Option(help: "Calibration prompts: JSONL, one {\"prompt\": ...} per line (wrapped in the chat template).") var calibration: String
    @Option(help: "Seconds for measuring candidates (profiles and calibration are cached under $CHORUS_HOME/tune).", range: 0...604_800.0)
    var budget: Double = 180
    @Option(help: "Where to write the plan.") var out: String
    @Option(name: .shortAndLong, help: "Threads (compute units).", range: 1...256) var threads: Int = LanguageModel.defaultThreads
    @Option(help: "Target tokens per calibration prompt.", range: 1...4096) var calibrationTokens: Int = 64
    @Option(help: "Widest verification considered (rows, root included).", range: 2...64) var maxWidth: Int = 16
    @Option(help: "Prompts each measured candidate runs.", range: 1...100) var measurePrompts: Int = 3
    @Option(help: "Tokens per prompt each measured candidate generates.", range: 1...4096) var measureTokens: Int = 48
    @Flag(help: "Measure the machine and models again instead of using cached profiles.") var fresh = false
    @Flag(help: "Only consider all --threads units (by default one unit is a candidate too).") var noSingleUnit = false
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard !drafters.isEmpty else { throw ValidationError("--draft names no drafter") }
    }

    var drafters: [DrafterChoice] {
        draft.split(separator: ",").map { DrafterChoice($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != .none }
    }

    func run() throws {
        var options = Tuner.Options(target: model, drafters: drafters, calibrationPath: calibration)
        options.budgetSeconds = budget
        options.threads = threads
        options.calibrationTokens = calibrationTokens
        options.maxWidth = maxWidth
        options.measurePrompts = measurePrompts
        options.measureTokens = measureTokens
        options.fresh = fresh
        options.considerSingleUnit = !noSingleUnit
        let tuner = Tuner(options: options, store: ModelStore(progress: .standardError())) { Output.standardError($0) }
        let report = try tuner.run()
        try report.plan.write(to: out)
        Output.standardError("plan written to \(out)")
        let measured = report.candidates.filter { $0.measuredTokensPerSecond != nil }
        let shown = measured + report.candidates.filter { $0.measuredTokensPerSecond == nil }.prefix(max(0, 10 - measured.count))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            func object<T: Encodable>(_ value: T) throws -> Any { try JSONSerialization.jsonObject(with: encoder.encode(value)) }
            let errors = report.costs.map { fitted -> [String: Any] in
                let cost = fitted.cost
                return ["model": cost.model, "threads": fitted.threads, "fit_constant_seconds": cost.fitConstant, "fit_compute_scale": cost.fitScale, "fit_memory_scale": cost.fitMemoryScale,
                 "measured": cost.measured.map { ["width": $0.width, "seconds": $0.seconds] },
                 "fit_errors": fitted.errors.map { ["width": $0.width, "relative_error": $0.error] }]
            }
            try Output.json([
                "plan": try object(report.plan),
                "predicted_tokens_per_second": report.winner.predictedTokensPerSecond,
                "measured_tokens_per_second": report.winner.measuredTokensPerSecond ?? 0,
                "plain_tokens_per_second": report.plain.measuredTokensPerSecond ?? 0,
                "candidates": try report.candidates.prefix(40).map { try object($0) },
                "reason": report.reason,
                "cost_model": errors,
            ])
            return
        }
        print("units  drafter               tree                      width  E[acc]  verify ms  draft ms  predicted  measured  error  anchored error")
        for c in shown {
            let measuredText = c.measuredTokensPerSecond.map { String(format: "%8.1f", $0) } ?? "       -"
            let errorText = c.predictionError.map { String(format: "%+5.0f%%", $0 * 100) } ?? "     -"
            let anchoredText = c.anchoredPredictionError.map { String(format: "%+9.0f%%", $0 * 100) } ?? "         -"
            print(String(format: "%5d  %@ %@ %5.1f  %6.2f  %9.1f  %8.1f  %9.1f  %@  %@  %@",
                         c.threads ?? report.plan.threads, c.drafter.description.padding(toLength: 21, withPad: " ", startingAt: 0) as NSString,
                         "\(c.origin) \(c.treeDescription)".padding(toLength: 25, withPad: " ", startingAt: 0) as NSString,
                         c.verificationWidth, c.expectedAccepted, c.verifySeconds * 1e3, c.draftSeconds * 1e3,
                         c.predictedTokensPerSecond, measuredText, errorText, anchoredText))
        }
        print("partition: " + OperatorClassOrder.describe(report.plan.partition))
        for fitted in report.costs {
            let cost = fitted.cost, threads = fitted.threads
            let fit = fitted.errors.map { String(format: "W%d %+.0f%%", $0.width, $0.error * 100) }
            print(String(format: "cost model %@ on %d unit(s): T(W) = %.1f ms + sum max(%.2f x memory, %.2f x compute) + sync; fit error %@",
                         cost.model as NSString, threads, cost.fitConstant * 1e3, cost.fitMemoryScale, cost.fitScale, fit.joined(separator: ", ")))
        }
        print("winner: " + report.reason)
        print("(error: prediction from the profiled costs against measurement; anchored: the same scaled by plain decoding's measured/predicted ratio on those units in this run, i.e. with the machine's load today)")
    }
}

/// Partition shares as text, operator classes in a fixed order.
enum OperatorClassOrder {
    static func describe(_ plan: PartitionPlan) -> String {
        plan.units.map(\.name).joined(separator: "/") + " " + ["linear", "attention", "rowwise"].compactMap { name in
            guard let op = plan.shares.keys.first(where: { $0.rawValue == name }), let s = plan.shares[op] else { return nil }
            return name + " " + s.map { String(format: "%.3f", $0) }.joined(separator: ":")
        }.joined(separator: ", ")
    }
}
