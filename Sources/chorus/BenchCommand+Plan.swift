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
        let result = try PlanBenchmark(decoder: decoder).run(prompts: texts, maxTokens: generateTokens) { Output.standardError($0) }
        let (plainRate, planRate, identical) = (result.plainTokensPerSecond, result.planTokensPerSecond, result.identical)
        if json {
            try Output.json([
                "prompts": result.prompts, "plain_tokens_per_second": plainRate, "plan_tokens_per_second": planRate,
                "predicted_tokens_per_second": plan.predictedTokensPerSecond ?? 0, "identical_outputs": identical,
                "model": options.model, "threads": plan.threads, "tokens_per_prompt": generateTokens,
            ])
            return
        }
        print(String(format: "%d prompts, %d tokens each, %d threads: plain %.1f tokens/s, plan %.1f tokens/s (%.2fx; predicted %.1f)%@",
                     result.prompts, generateTokens, plan.threads, plainRate, planRate, planRate / max(plainRate, 1e-9),
                     plan.predictedTokensPerSecond ?? 0, identical ? "; outputs identical" : "; OUTPUTS DIFFER"))
    }
}
