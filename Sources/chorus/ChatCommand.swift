import ArgumentParser
import Chorus

/// `chorus chat`: an interactive conversation in the model's chat template; the KV cache is kept
/// between turns, so each turn only evaluates what is new.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat", abstract: "Chat with a model interactively.")

    @OptionGroup var options: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(help: "A system message for the conversation.") var system: String?
    @Option(name: .customShort("n"), help: "Maximum new tokens per reply.", range: 0...NumberArgument.maxTokens) var maxTokens: Int = 512

    func run() throws {
        let session = try ChatSession(model: try options.load(), system: system)
        Output.standardError("chatting with \(options.model); an empty line or end of input ends the chat")
        while true {
            Output.standardError("> ")
            guard let line = readLine(), !line.isEmpty else { break }
            let result = try session.reply(to: line, maxTokens: maxTokens, sampling: sampling.parameters) { _, piece in
                Output.stream(piece)
                return true
            }
            Output.stream("\n")
            if result.stopReason == .contextFull {
                Output.standardError("(context full: start a new chat or raise --context)")
                break
            }
        }
    }
}
