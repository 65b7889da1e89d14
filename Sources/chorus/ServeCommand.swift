import ArgumentParser
import Chorus
import ChorusServer
import Foundation
import Logging

/// `chorus serve`: an OpenAI-compatible HTTP server with continuous batching.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics).")

    @OptionGroup var options: ModelOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed at start).", range: 0...65535) var port = 8080
    @Option(help: "Sequences decoded together (slots); each holds a KV cache of the full context.", range: 1...256) var parallel = 4
    @Option(help: "Sequences that may wait for a slot before requests get 429 (default: 4 x --parallel).", range: 0...1_000_000) var queue: Int?
    @Option(help: "Rows per batched forward pass: decoding rows first, prompt chunks fill the rest.", range: 1...4096) var batch = 64
    @Option(help: "Require 'Authorization: Bearer KEY' on every request but /health.") var apiKey: String?
    @Option(help: "An execution plan from `chorus tune` (threads, partition, drafter, tree, width: greedy requests speculate with the plan's drafter and verify its tree) or a partition plan (JSON) splitting each operator class's rows across the threads; any partition gives the same bits.")
    var plan: String?
    @Option(help: "Greedy requests: draft K tokens (by prompt lookup unless --draft names a model) and verify them in the same pass (0: off; 2 when --draft is given).", range: 0...32)
    var speculate: Int?
    @Option(help: "Speculative drafts from this draft model (catalog id or .gguf path, sharing the model's vocabulary) or `ngram` (prompt lookup).")
    var draft: String?
    @Option(help: "A draft model proposes from its first N token ids and the end-of-generation ids only (0: every id).", range: 0...Int(Int32.max))
    var draftVocabulary: Int = ModelDrafter.defaultVocabulary
    @Option(help: "Speculate only while at most this many sequences decode.", range: 1...256) var speculateMaxSequences = 2
    @Option(help: "Seconds a shutdown (SIGINT/SIGTERM) lets running requests finish before cancelling them.", range: 0...86400.0)
    var shutdownGrace = 10.0

    func validate() throws {
        guard batch >= parallel && batch <= 4096 else { throw ValidationError("--batch must be between --parallel and 4096") }
        if options.llamaCppRounding { throw ValidationError("serve batches sequences and needs batch-invariant rounding; drop --llama-cpp-rounding") }
        if draft != nil, speculate == 0 { throw ValidationError("--draft needs --speculate K with K >= 1") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let choice: ServingChoice
        do {
            choice = try ServingChoice(plan: plan, draft: draft, speculate: speculate, draftVocabulary: draftVocabulary)
        } catch {
            throw ValidationError("\(error)")
        }
        var loadOptions = options
        loadOptions.threads = choice.threads ?? options.threads
        let (model, speculation) = try choice.apply(to: loadOptions.load(maxBatch: batch), maxSequences: speculateMaxSequences,
                                                    store: ModelStore(progress: .standardError()))
        let metrics = ServerMetrics()
        let scheduler = try BatchScheduler(model: model, slots: parallel, queueCapacity: queue ?? 4 * parallel, stepRows: batch,
                                           speculation: speculation, observer: metrics)
        let name = URL(fileURLWithPath: options.model).pathExtension == "gguf"
            ? URL(fileURLWithPath: options.model).deletingPathExtension().lastPathComponent : options.model
        let server = ChorusHTTPServer(
            scheduler: scheduler, metrics: metrics,
            configuration: ServerConfiguration(host: host, port: port, apiKey: apiKey, modelName: name,
                                               shutdownGrace: .milliseconds(Int(shutdownGrace * 1000))))
        try await server.run { host, port in
            FileHandle.standardError.write(Data("chorus serve: \(name) listening on http://\(host):\(port) (\(parallel) slots, context \(model.contextLength))\n".utf8))
        }
    }
}
