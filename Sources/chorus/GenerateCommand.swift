import ArgumentParser
import Chorus

/// `chorus generate PROMPT`: continue a prompt, streaming the text to stdout.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text from a prompt, streaming it to stdout.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Argument(help: "The prompt.") var prompt: String
    @Option(name: .customShort("n"), help: "Maximum number of new tokens.") var maxTokens: Int = 128
    @Flag(help: "Wrap the prompt as one user turn in the model's chat template.") var chat = false
    @Flag(help: "Print one JSON object with ids, text and speeds instead of streaming text.") var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("-n must be >= 0") }
    }

    func run() throws {
        let model = try options.load()
        let text = chat ? try model.chatPrompt(prompt) : prompt
        let promptIDs = model.tokenize(text, addSpecial: true, parseSpecial: true)
        let cache = model.makeCache()
        let result = try Generator(model: model).generate(
            promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, sampling: sampling.parameters
        ) { _, piece in
            if !json { Output.stream(piece) }
            return true
        }
        if json {
            try Output.json([
                "prompt_ids": result.promptIDs, "ids": result.ids, "text": result.text,
                "prompt_tokens_per_second": result.promptTokensPerSecond, "tokens_per_second": result.tokensPerSecond,
                "stop_reason": result.stopReason.rawValue,
            ])
        } else {
            Output.stream("\n")
            Output.standardError(String(
                format: "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s | stop: %@",
                result.promptIDs.count, result.promptTokensPerSecond, result.ids.count, result.tokensPerSecond,
                result.stopReason.rawValue))
        }
    }
}
