import ArgumentParser
import Chorus
import ChorusTokenizers
import Foundation

/// `--model` for the commands that need only a model's vocabulary.
struct VocabularyOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A catalog id (see `chorus models`) or a path to any .gguf file with a vocabulary (weights not needed).")
    var model: String = ModelCatalog.defaultModelID

    func load() throws -> any Tokenizer {
        try ModelStore(progress: .standardError()).loadTokenizer(model)
    }
}

/// `chorus tokenize TEXT`: the token ids of a text as the model's tokenizer produces them.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the token ids of a text.")

    @OptionGroup var options: VocabularyOptions
    @Argument(help: "The text to tokenize.") var text: String
    @Flag(help: "Do not add BOS/EOS even where the model's metadata says to.") var noSpecial = false
    @Flag(help: "Treat special-token text (e.g. <|im_start|>) as plain text.") var noParseSpecial = false
    @Flag(help: "Print one JSON object {\"ids\": [...]}.") var json = false

    func run() throws {
        let ids = try options.load().encode(text, addSpecial: !noSpecial, parseSpecial: !noParseSpecial)
        if json {
            try Output.json(["ids": ids])
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

/// `chorus detokenize IDS`: the text of token ids, the inverse of `chorus tokenize` with the same flags.
struct DetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detokenize",
        abstract: "Print the text of token ids: `chorus detokenize $(chorus tokenize TEXT)` prints TEXT (as llama.cpp would).",
        discussion: "The text is written as it is, without a newline after it.")

    @OptionGroup var options: VocabularyOptions
    @Argument(parsing: .allUnrecognized,
              help: "Token ids as tokenize prints them: separate words, or space- or comma-separated in one (JSON brackets allowed); read from stdin when none are given.")
    var ids: [String] = []
    @Flag(help: "The ids have no BOS/EOS added (as tokenize --no-special): keep a leading BOS and trailing EOS.") var noSpecial = false
    @Flag(help: "Print control tokens (e.g. <|im_start|>) as nothing, as tokenize --no-parse-special never makes them.")
    var noParseSpecial = false
    @Flag(help: "Print one JSON object {\"text\": ...} (invalid UTF-8 replaced by U+FFFD).") var json = false

    func run() throws {
        let words = ids.isEmpty ? [String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)] : ids
        let tokenizer = try options.load()
        let ids = try TokenIDList.parse(words, vocabularySize: tokenizer.vocabularySize)
        let bytes = tokenizer.detokenize(ids, removeSpecial: !noSpecial, renderSpecial: !noParseSpecial)
        if json {
            try Output.json(["text": String(decoding: bytes, as: UTF8.self)])
        } else {
            FileHandle.standardOutput.write(Data(bytes))
        }
    }
}

/// Token ids written by a user or by `chorus tokenize` (plain or `--json`).
enum TokenIDList {
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// The ids in `words`, each checked to be a token of a vocabulary of `vocabularySize`.
    static func parse(_ words: [String], vocabularySize: Int) throws -> [Int] {
        var ids: [Int] = []
        for word in words {
            let cleaned = word.replacingOccurrences(of: "\"ids\":", with: " ")
            for item in cleaned.split(whereSeparator: { $0.isWhitespace || ",[]{}".contains($0) }) {
                guard let id = Int(item) else {
                    throw Invalid(description: "'\(item.prefix(40))' is not a token id (ids are whole numbers, 0 to \(vocabularySize - 1))")
                }
                guard id >= 0, id < vocabularySize else {
                    throw Invalid(description: "token id \(id) is out of range (allowed: 0 to \(vocabularySize - 1), the vocabulary's size is \(vocabularySize))")
                }
                ids.append(id)
            }
        }
        return ids
    }
}
