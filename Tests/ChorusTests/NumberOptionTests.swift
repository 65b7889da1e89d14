import ChorusTestSupport
import Foundation
import Testing

/// Every number option of every `chorus` subcommand refuses a negative value as out of range, naming the
/// allowed range (swift-argument-parser alone reads `-1` as an option name and says the value is missing),
/// and takes an in-range value. Runs the built binary as a user would; no model is loaded.
@Suite struct NumberOptionTests {
    /// (arguments before the option, the option, arguments after it), one per number option.
    static let options: [(before: [String], option: String, after: [String])] = {
        let model = ["generate", "chat", "perplexity", "bench", "serve"]
        var list: [([String], String, [String])] = []
        func add(_ command: [String], _ options: [String], _ after: [String] = []) {
            for option in options { list.append((command, option, after)) }
        }
        for command in model { add([command], ["-t", "--threads", "-c", "--context"], command == "perplexity" ? ["-f", "x"] : []) }
        let sampling = ["--temperature", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n", "--seed"]
        let distributed = ["--pipeline-stages", "--tensor-parallel", "--microbatches", "--comm-timeout"]
        add(["generate"], ["-n", "--draft-length", "--draft-vocabulary"] + sampling + distributed, ["hello"])
        add(["chat"], ["-n"] + sampling)
        add(["perplexity"], distributed, ["-f", "x"])
        add(["bench"], ["-p", "-n", "-r", "--draft-length", "--temperature", "--seed", "--draft-vocabulary"] + distributed)
        add(["serve"], ["--port", "--parallel", "--queue", "--batch", "--speculate", "--draft-vocabulary",
                        "--speculate-max-sequences", "--shutdown-grace"])
        add(["tune", "--calibration", "c.jsonl", "--out", "p.json"],
            ["-t", "--budget", "--calibration-tokens", "--max-width", "--measure-prompts", "--measure-tokens"])
        add(["units"], ["-t"])
        let simulate = ["pipeline", "simulate", "--schedule", "interleaved"]
        add(simulate, ["--stages"], ["--microbatches", "2"])
        add(simulate, ["--microbatches"], ["--stages", "2"])
        add(simulate, ["--virtual"], ["--stages", "2", "--microbatches", "2"])
        add(["pipeline", "draw", "t.json", "--svg", "t.svg"], ["--forward"])
        add(["pipeline", "compare", "t.json"], ["--forward"])
        return list
    }()

    @Test func negativeNumbersAreOutOfRange() throws {
        for (before, option, after) in Self.options {
            let outcome = try ChorusExecutable.run(before + [option, "-1"] + after, timeout: 60)
            let command = (before + [option, "-1"] + after).joined(separator: " ")
            #expect(outcome.status != 0, "chorus \(command) succeeded")
            // The error line, then swift-argument-parser's help line and usage.
            let lines = outcome.stderr.split(separator: "\n")
            let first = String(lines.first ?? "")
            #expect(first.hasPrefix("Error: The value '-1' is invalid for '") && first.contains("': out of range (allowed: "),
                    "chorus \(command): \(outcome.stderr.prefix(300))")
            #expect(lines.count <= 4, "chorus \(command): long error \(outcome.stderr.prefix(600))")
        }
        print("\(Self.options.count) number options refuse -1 as out of range")
    }

    @Test func messagesNameTheOptionAndRange() throws {
        let outcome = try ChorusExecutable.run(["generate", "-n", "-1", "hello"])
        #expect(outcome.stderr.contains("Error: The value '-1' is invalid for '-n <n>': out of range (allowed: 0 to 1048576)"),
                "\(outcome.stderr)")
        let seed = try ChorusExecutable.run(["generate", "--seed", "-5", "hello"])
        #expect(seed.stderr.contains("out of range (allowed: 0 to 18446744073709551615)"), "\(seed.stderr)")
        let word = try ChorusExecutable.run(["generate", "-n", "many", "hello"])
        #expect(word.stderr.contains("not a whole number (allowed: 0 to 1048576)"), "\(word.stderr)")
        let fraction = try ChorusExecutable.run(["serve", "--shutdown-grace", "-0.5"])
        #expect(fraction.stderr.contains("out of range (allowed: 0.0 to 86400.0)"), "\(fraction.stderr)")
    }

    /// In-range values pass parsing and validation: the run gets as far as looking for the model file.
    @Test func inRangeNumbersAreAccepted() throws {
        let missing = "/nonexistent/model.gguf"
        for arguments in [
            ["generate", "-m", missing, "-n", "0", "--temperature", "0", "--seed", "0", "-t", "1", "-c", "16", "hello"],
            ["generate", "-m", missing, "--top-k", "0", "--top-p", "1", "--min-p", "0", "--repeat-last-n", "0", "hello"],
            ["bench", "-m", missing, "-p", "0", "-n", "1", "-r", "1"],
            ["serve", "-m", missing, "--port", "0", "--queue", "0", "--speculate", "0", "--shutdown-grace", "0"],
        ] {
            let outcome = try ChorusExecutable.run(arguments, timeout: 60)
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains(missing) && !outcome.stderr.contains("invalid for"),
                    "chorus \(arguments.joined(separator: " ")): \(outcome.stderr.prefix(300))")
        }
    }
}
