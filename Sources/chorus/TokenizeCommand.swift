import ArgumentParser
import Chorus

/// `chorus tokenize TEXT`: the token ids of a text as the model's tokenizer produces them.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the token ids of a text.")

    @OptionGroup var options: ModelOptions
    @Argument(help: "The text to tokenize.") var text: String
    @Flag(help: "Do not add BOS/EOS even where the model's metadata says to.") var noSpecial = false
    @Flag(help: "Treat special-token text (e.g. <|im_start|>) as plain text.") var noParseSpecial = false
    @Flag(help: "Print one JSON object {\"ids\": [...]}.") var json = false

    func run() throws {
        let model = try options.load()
        let ids = model.tokenize(text, addSpecial: !noSpecial, parseSpecial: !noParseSpecial)
        if json {
            try Output.json(["ids": ids])
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
