import ChorusPlanner
import ChorusRuntime
import Foundation

/// Plain greedy decoding (even partition) against decoding under an execution plan, prompt by prompt
/// in the same run (interleaved, so both see the same machine load).
public struct PlanBenchmark {
    public struct Result: Sendable {
        public var prompts = 0
        public var plainTokens = 0, planTokens = 0
        public var plainSeconds = 0.0, planSeconds = 0.0
        /// Whether every prompt gave the same tokens both ways.
        public var identical = true
        public var plainTokensPerSecond: Double { plainSeconds > 0 ? Double(plainTokens) / plainSeconds : 0 }
        public var planTokensPerSecond: Double { planSeconds > 0 ? Double(planTokens) / planSeconds : 0 }
    }

    public let decoder: PlannedDecoder

    public init(decoder: PlannedDecoder) { self.decoder = decoder }

    /// Each prompt (wrapped in the chat template when the model has one), `maxTokens` each; `progress`
    /// gets a line per prompt.
    public func run(prompts: [String], maxTokens: Int, progress: (String) -> Void = { _ in }) throws -> Result {
        // The same model (weights, workspace) under an even partition.
        let model = try decoder.model.with { $0.plan = .uniform(units: decoder.plan.partition.units.count) }
        let promptIDs = try prompts.map { text in
            model.tokenize(model.chatTemplate != nil ? try model.chatPrompt(text) : text, addSpecial: true, parseSpecial: true)
        }
        // Warm-up: touch the weights of both models once.
        _ = try decoder.generate(promptIDs: promptIDs[0], cache: model.makeCache(), maxTokens: 4)
        var result = Result(prompts: promptIDs.count)
        for (i, ids) in promptIDs.enumerated() {
            let plain = try Generator(model: model).generate(promptIDs: ids, cache: model.makeCache(), maxTokens: maxTokens,
                                                             sampling: .greedy)
            let (planned, _) = try decoder.generate(promptIDs: ids, cache: model.makeCache(), maxTokens: maxTokens)
            result.plainTokens += plain.ids.count
            result.plainSeconds += plain.generationSeconds
            result.planTokens += planned.ids.count
            result.planSeconds += planned.generationSeconds
            result.identical = result.identical && plain.ids == planned.ids
            progress(String(format: "prompt %d/%d: plain %.1f tokens/s, plan %.1f tokens/s%@", i + 1, promptIDs.count,
                            plain.tokensPerSecond, planned.tokensPerSecond, plain.ids == planned.ids ? "" : " (outputs differ!)"))
        }
        return result
    }
}
