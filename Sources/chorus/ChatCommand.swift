import ArgumentParser
import Chorus
import ChorusTokenizers

/// `chorus chat`: an interactive conversation in the model's chat template; the KV cache is kept
/// between turns, so each turn only evaluates what is new.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Chat with a model interactively.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "A system message for the conversation.") var system: String?
    @Option(name: .customShort("n"), help: "Maximum new tokens per reply.", range: 0...NumberArgument.maxTokens) var maxTokens: Int = 512

    func run() throws {
        let model = try options.load()
        guard model.chatTemplate != nil else { throw EngineError.noChatTemplate }
        var messages: [ChatMessage] = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        let cache = model.makeCache()
        var cachedIDs: [Int] = []
        let generator = Generator(model: model)
        Output.standardError("chatting with \(options.model); an empty line or end of input ends the chat")
        while true {
            Output.standardError("> ")
            guard let line = readLine(), !line.isEmpty else { break }
            messages.append(ChatMessage(role: "user", content: line))
            let ids = model.tokenize(try model.chatPrompt(messages), addSpecial: true, parseSpecial: true)
            // Keep the cached tokens that the new rendering starts with.
            let common = zip(cachedIDs, ids).prefix { $0 == $1 }.count
            cache.trim(to: common)
            let result = try generator.generate(promptIDs: ids, cache: cache, maxTokens: maxTokens,
                                                sampling: sampling.parameters) { _, piece in
                Output.stream(piece)
                return true
            }
            Output.stream("\n")
            messages.append(ChatMessage(role: "assistant", content: result.text))
            cachedIDs = ids + result.ids
            if result.stopReason == .contextFull {
                Output.standardError("(context full: start a new chat or raise --context)")
                break
            }
        }
    }
}
