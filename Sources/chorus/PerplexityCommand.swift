import ArgumentParser
import Chorus
import ChorusDistributed
import Foundation

/// `chorus perplexity --file TEXT`: perplexity as llama-perplexity reports it.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity", abstract: "Compute perplexity of a text file (llama-perplexity's method).")

    @OptionGroup var options: ModelOptions
    @OptionGroup var distributed: DistributedOptions
    @Option(name: .shortAndLong, help: "The text file.") var file: String
    @Flag(help: "Print one JSON object {\"ppl\": x, \"tokens\": n}.") var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw EngineError.invalidArgument("cannot read '\(file)'")
        }
        let text = String(decoding: data, as: UTF8.self)
        let context = options.context ?? 512
        var opts = options
        opts.context = context
        try ModelRun.start(distributed.run(opts, maxBatch: min(context, 512))).drive { model in
            try evaluate(model, text: text, context: context)
        }
    }

    private func evaluate(_ model: LanguageModel, text: String, context: Int) throws {
        let result = try Perplexity(model: model).evaluate(text: text, context: context) { chunk, ppl in
            if !json { Output.standardError(String(format: "[%d] %.4f", chunk + 1, ppl)) }
        }
        if json {
            try Output.json(["ppl": result.ppl, "tokens": result.tokens, "chunks": result.chunks,
                             "uncertainty": result.uncertainty, "seconds": result.seconds])
        } else {
            print(String(format: "Final estimate: PPL = %.4f +/- %.5f", result.ppl, result.uncertainty))
            print(String(format: "PPL = %.4f", result.ppl))
        }
    }
}
