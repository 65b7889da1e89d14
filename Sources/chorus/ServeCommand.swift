import ArgumentParser
import Chorus
import ChorusSpeculative
import ChorusPlanner
import ChorusRuntime
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
    @Option(help: "Port to listen on (0: any free port, printed at start).") var port = 8080
    @Option(help: "Sequences decoded together (slots); each holds a KV cache of the full context.") var parallel = 4
    @Option(help: "Sequences that may wait for a slot before requests get 429 (default: 4 x --parallel).") var queue: Int?
    @Option(help: "Rows per batched forward pass: decoding rows first, prompt chunks fill the rest.") var batch = 64
    @Option(help: "Require 'Authorization: Bearer KEY' on every request but /health.") var apiKey: String?
    @Option(help: "An execution plan from `chorus tune` (threads, partition, drafter, tree: the server speculates with the plan's drafter, chains as deep as its tree) or a partition plan (JSON) splitting each operator class's rows across the threads; any partition gives the same bits.")
    var plan: String?
    @Option(help: "Greedy requests: draft K tokens (by prompt lookup unless --draft names a model) and verify them in the same pass (0: off; 2 when --draft is given).")
    var speculate: Int?
    @Option(help: "Speculative drafts from this draft model (catalog id or .gguf path, sharing the model's vocabulary) or `ngram` (prompt lookup).")
    var draft: String?
    @Option(help: "A draft model proposes from its first N token ids and the end-of-generation ids only (0: every id).")
    var draftVocabulary: Int = ModelDrafter.defaultVocabulary
    @Option(help: "Speculate only while at most this many sequences decode.") var speculateMaxSequences = 2
    @Option(help: "Seconds a shutdown (SIGINT/SIGTERM) lets running requests finish before cancelling them.") var shutdownGrace = 10.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 256") }
        if let queue, queue < 0 { throw ValidationError("--queue must be >= 0") }
        guard batch >= parallel && batch <= 4096 else { throw ValidationError("--batch must be between --parallel and 4096") }
        guard shutdownGrace >= 0 && shutdownGrace.isFinite else { throw ValidationError("--shutdown-grace must be >= 0") }
        if options.llamaCppRounding { throw ValidationError("serve batches sequences and needs batch-invariant rounding; drop --llama-cpp-rounding") }
        guard (0...32).contains(speculate ?? 0) else { throw ValidationError("--speculate must be between 0 and 32") }
        guard draftVocabulary >= 0 else { throw ValidationError("--draft-vocabulary must be >= 0") }
        if draft != nil, speculate == 0 { throw ValidationError("--draft needs --speculate K with K >= 1") }
        guard speculateMaxSequences >= 1 else { throw ValidationError("--speculate-max-sequences must be >= 1") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        // --plan: an execution plan from `chorus tune`, else a bare partition plan.
        var execution: ExecutionPlan?
        var partition: PartitionPlan?
        if let plan {
            do {
                execution = try ExecutionPlan.load(path: plan)
            } catch let planError {
                do {
                    partition = try PartitionPlan.load(path: plan)
                } catch {
                    throw ValidationError("--plan \(plan) is neither an execution plan (\(planError)) nor a partition plan (\(error))")
                }
            }
        }
        var draft = self.draft
        var speculate = self.speculate
        var loadOptions = options
        if let execution {
            guard self.draft == nil, self.speculate == nil else {
                throw ValidationError("--plan \(plan!) names the drafter and tree: drop --draft and --speculate")
            }
            loadOptions.threads = execution.threads
            partition = execution.partition
            switch execution.drafter {
            case .none: speculate = 0
            case .ngram: draft = "ngram"
            case .model(let id): draft = id
            }
            // The server verifies chains: as deep as the plan's tree.
            if execution.drafter != .none { speculate = max(1, try execution.shape()?.depth ?? 1) }
        }
        let loaded = try loadOptions.load(maxBatch: batch)
        if let partition {
            do {
                try partition.validate(forUnits: loaded.transformer.pool.threadCount)
            } catch {
                throw ValidationError("--plan \(plan!): \(error)")
            }
        }
        let model = try partition.map { partition in try loaded.with { $0.plan = partition } } ?? loaded
        let draftLength = speculate ?? (draft != nil ? 2 : 0)
        var draftModel: LanguageModel?
        if let draft, draft != "ngram" {
            draftModel = try LanguageModel.load(draft, threads: loadOptions.threads, context: model.contextLength,
                                                maxBatch: max(16, draftLength + 1), store: ModelStore(progress: .standardError()))
            guard draftModel!.config.vocabularySize == model.config.vocabularySize else {
                throw ValidationError("--draft \(draft): its vocabulary (\(draftModel!.config.vocabularySize) ids) differs from the model's (\(model.config.vocabularySize))")
            }
        }
        let speculation = draftLength > 0
            ? BatchScheduler.Speculation(draftLength: draftLength, maxSequences: speculateMaxSequences, draftModel: draftModel,
                                         draftVocabulary: draftVocabulary)
            : nil
        let scheduler = BatchScheduler(model: model, slots: parallel, queueCapacity: queue ?? 4 * parallel, stepRows: batch,
                                       speculation: speculation)
        let name = URL(fileURLWithPath: options.model).pathExtension == "gguf"
            ? URL(fileURLWithPath: options.model).deletingPathExtension().lastPathComponent : options.model
        let server = ChorusHTTPServer(
            scheduler: scheduler,
            configuration: ServerConfiguration(host: host, port: port, apiKey: apiKey, modelName: name,
                                               shutdownGrace: .milliseconds(Int(shutdownGrace * 1000))))
        try await server.run { host, port in
            FileHandle.standardError.write(Data("chorus serve: \(name) listening on http://\(host):\(port) (\(parallel) slots, context \(model.contextLength))\n".utf8))
        }
    }
}
