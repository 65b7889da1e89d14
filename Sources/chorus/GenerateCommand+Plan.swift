import ArgumentParser
import Chorus
import ChorusPlanner

/// `chorus generate --plan PLAN.json`: decode as the plan says.
extension GenerateCommand {
    func validatePlan() throws {
        if draft != nil || tree != nil || draftLength != nil {
            throw ValidationError("--plan already names the drafter and tree: drop --draft, --tree and --draft-length")
        }
        if options.llamaCppRounding { throw ValidationError("--plan needs batch-invariant rounding; drop --llama-cpp-rounding") }
    }

    func run(planPath: String) throws {
        let plan = try ExecutionPlan.load(path: planPath)
        if let planned = plan.model, planned != options.model {
            Output.standardError("note: the plan was tuned for \(planned), running \(options.model)")
        }
        var opts = options
        opts.threads = plan.threads
        let shape = try plan.shape()
        let model = try opts.load(maxBatch: max(64, (shape?.nodeCount ?? 0) + 1))
        let decoder = try PlannedDecoder(plan: plan, model: model, store: ModelStore(progress: .standardError()))
        let text = chat ? try model.chatPrompt(prompt) : prompt
        let (result, statistics) = try decoder.generate(promptIDs: model.tokenize(text), cache: model.makeCache(), maxTokens: maxTokens,
                                                        sampling: sampling.parameters, onToken: stream)
        var extra: [String: Any] = ["plan": planPath]
        if let predicted = plan.predictedTokensPerSecond { extra["predicted_tokens_per_second"] = predicted }
        try report(result, speculative: statistics != nil, draft: plan.drafter.description, tree: shape?.description ?? "", extra: extra,
                   label: " | plan: \(planPath)")
    }
}
