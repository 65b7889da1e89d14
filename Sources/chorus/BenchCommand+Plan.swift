import ArgumentParser
import Chorus
import ChorusModels
import ChorusPlanner

/// `chorus bench --plan PLAN.json --prompts FILE.jsonl -n N`: plain greedy decoding against the plan,
/// prompt by prompt in the same run (interleaved, so both see the same machine load).
extension BenchCommand {
    func validatePlan() throws {
        guard speculative.plan != nil, speculative.prompts != nil else { throw ValidationError("--plan and --prompts go together") }
        guard (1...4096).contains(generateTokens) else { throw ValidationError("-n must be between 1 and 4096 with --plan") }
        if options.llamaCppRounding { throw ValidationError("--plan needs batch-invariant rounding; drop --llama-cpp-rounding") }
    }

    func run(planPath: String, promptsPath: String) throws {
        let plan = try ExecutionPlan.load(path: planPath)
        let texts = try PromptFile.load(path: promptsPath)
        var opts = options
        opts.threads = plan.threads
        let shape = try plan.shape()
        let model = try opts.load(maxBatch: max(64, (shape?.nodeCount ?? 0) + 1))
        let decoder = try PlannedDecoder(plan: plan, model: model, store: ModelStore(progress: .standardError()))
        let generator = Generator(model: model)
        let promptIDs = try texts.map { text in
            model.tokenize(model.chatTemplate != nil ? try model.chatPrompt(text) : text, addSpecial: true, parseSpecial: true)
        }
        // Warm-up: touch the weights of both models once.
        _ = try decoder.generate(promptIDs: promptIDs[0], cache: model.makeCache(), maxTokens: 4)
        var plainTokens = 0, planTokens = 0
        var plainSeconds = 0.0, planSeconds = 0.0
        var identical = true
        for (i, ids) in promptIDs.enumerated() {
            let plain = try generator.generate(promptIDs: ids, cache: model.makeCache(), maxTokens: generateTokens, sampling: .greedy)
            let (planned, _) = try decoder.generate(promptIDs: ids, cache: model.makeCache(), maxTokens: generateTokens)
            plainTokens += plain.ids.count
            plainSeconds += plain.generationSeconds
            planTokens += planned.ids.count
            planSeconds += planned.generationSeconds
            identical = identical && plain.ids == planned.ids
            Output.standardError(String(format: "prompt %d/%d: plain %.1f tokens/s, plan %.1f tokens/s%@", i + 1, promptIDs.count,
                                        plain.tokensPerSecond, planned.tokensPerSecond, plain.ids == planned.ids ? "" : " (outputs differ!)"))
        }
        let plainRate = plainSeconds > 0 ? Double(plainTokens) / plainSeconds : 0
        let planRate = planSeconds > 0 ? Double(planTokens) / planSeconds : 0
        if json {
            try Output.json([
                "prompts": promptIDs.count, "plain_tokens_per_second": plainRate, "plan_tokens_per_second": planRate,
                "predicted_tokens_per_second": plan.predictedTokensPerSecond ?? 0, "identical_outputs": identical,
                "model": options.model, "threads": plan.threads, "tokens_per_prompt": generateTokens,
            ])
            return
        }
        print(String(format: "%d prompts, %d tokens each, %d threads: plain %.1f tokens/s, plan %.1f tokens/s (%.2fx; predicted %.1f)%@",
                     promptIDs.count, generateTokens, plan.threads, plainRate, planRate, planRate / max(plainRate, 1e-9),
                     plan.predictedTokensPerSecond ?? 0, identical ? "; outputs identical" : "; OUTPUTS DIFFER"))
    }
}
