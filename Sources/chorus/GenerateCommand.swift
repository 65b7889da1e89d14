import ArgumentParser
import Chorus
import ChorusDistributed

/// `chorus generate PROMPT`: continue a prompt, streaming the text to stdout.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text from a prompt, streaming it to stdout.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var distributed: DistributedOptions
    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .customShort("n"), help: "Maximum number of new tokens.", range: 0...NumberArgument.maxTokens) var maxTokens: Int = 128
    @Flag(help: "Wrap the prompt as one user turn in the model's chat template.") var chat = false
    @Flag(help: "Print one JSON object with ids, text and speeds instead of streaming text.") var json = false
    @Option(help: "Speculative decoding: a draft model sharing the target's tokenizer (catalog id or .gguf path), or `ngram` for prompt lookup. Greedy (--temperature 0): the same tokens as plain decoding; sampling: the same distribution.")
    var draft: String?
    @Option(parsing: .unconditional, help: "Token-tree shape for --draft: children per node at each depth, e.g. 3,2,1.") var tree: String?
    @Option(help: "Draft a chain of K tokens per verification (default 4 when --tree is not given).", range: 1...63) var draftLength: Int?
    @Option(help: "A draft model proposes from its first N token ids and the end-of-generation ids only (0: every id).", range: 0...Int(Int32.max))
    var draftVocabulary: Int = ModelDrafter.defaultVocabulary
    @Flag(help: "Skeleton-of-thought: outline first, then expand every point in parallel as a batch (chat models).")
    var skeletonOfThought = false
    @Option(help: "Run as an execution plan from `chorus tune` says (drafter, tree, width, partition, threads).") var plan: String?

    func validate() throws {
        if plan != nil { return try validatePlan() }
        if draft == nil, tree != nil || draftLength != nil { throw ValidationError("--tree and --draft-length need --draft") }
        if tree != nil, draftLength != nil { throw ValidationError("give either --tree or --draft-length, not both") }
        if skeletonOfThought, draft != nil { throw ValidationError("--skeleton-of-thought does not combine with --draft") }
        if draft != nil {
            guard sampling.repeatPenalty == 1 else { throw ValidationError("--draft does not support --repeat-penalty") }
        }
        do { _ = try drafting } catch { throw ValidationError("--tree: \(error)") }
    }

    /// --draft with --tree or --draft-length (a chain of 4 by default).
    var drafting: DraftingChoice? {
        get throws {
            try draft.map { try DraftingChoice(draft: $0, tree: tree, draftLength: draftLength, draftVocabulary: draftVocabulary) }
        }
    }

    func run() throws {
        if skeletonOfThought { return try runSkeletonOfThought() }
        if let plan { return try run(planPath: plan) }
        let drafting = try drafting
        try ModelRun.start(distributed.run(options, maxBatch: max(64, (drafting?.shape.nodeCount ?? 0) + 1))).drive { model in
            let speculation = try drafting?.speculation(target: model, store: ModelStore(progress: .standardError()))
            let text = chat ? try model.chatPrompt(prompt) : prompt
            let result = try Generator(model: model).generate(
                promptIDs: model.tokenize(text), cache: model.makeCache(), maxTokens: maxTokens, sampling: sampling.parameters,
                speculation: speculation, onToken: stream)
            try report(result, speculative: speculation != nil, draft: draft ?? "", tree: drafting?.shape.branching ?? [])
        }
    }

    /// Streams each piece to stdout unless printing JSON.
    func stream(_ id: Int, _ piece: String) -> Bool {
        if !json { Output.stream(piece) }
        return true
    }

    /// Prints a finished generation: with --json one object (`extra` keys added, speculative
    /// statistics under "speculative"), else a summary line on stderr after the streamed text.
    func report(_ result: GenerationResult, speculative: Bool, draft: String, tree: Any,
                extra: [String: Any] = [:], label: String = "") throws {
        let statistics = speculative ? result.statistics : nil
        if json {
            var object: [String: Any] = [
                "prompt_ids": result.promptIDs, "ids": result.ids, "text": result.text,
                "prompt_tokens_per_second": result.promptTokensPerSecond, "tokens_per_second": result.tokensPerSecond,
                "stop_reason": result.stopReason.rawValue,
            ]
            object.merge(extra) { _, new in new }
            if let s = statistics {
                object["speculative"] = [
                    "draft": draft, "tree": tree, "verifications": s.verifications,
                    "drafted": s.drafted, "accepted": s.accepted, "acceptance_rate": s.acceptanceRate,
                    "mean_accepted_length": s.meanAcceptedLength, "tokens_per_verification": s.tokensPerVerification,
                    "acceptance_by_depth": s.acceptanceByDepth, "draft_seconds": s.draftSeconds,
                    "verify_seconds": s.verifySeconds, "tokens_per_second": s.tokensPerSecond,
                ] as [String: Any]
            }
            try Output.json(object)
        } else {
            Output.stream("\n")
            Output.standardError(String(
                format: "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %@",
                result.promptIDs.count, result.promptTokensPerSecond, result.ids.count, result.tokensPerSecond,
                result.stopReason.rawValue) + label)
            if let statistics { Output.standardError(statistics.summary) }
        }
    }
}
