import ArgumentParser
import Chorus

/// Options every model-running command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A catalog id (see `chorus models`) or a path to a .gguf file.")
    var model: String = ModelCatalog.defaultModelID

    @Option(name: .shortAndLong, help: "Threads for the operators (default: every core).", range: 1...256)
    var threads: Int = LanguageModel.defaultThreads

    @Option(name: [.customShort("c"), .long], help: "Context length in tokens (default: the model's, at most 4096).", range: 1...NumberArgument.maxTokens)
    var context: Int?

    @Flag(help: "Round batched K-quant products as llama.cpp does (bit-identical logits; gives up batch invariance).")
    var llamaCppRounding = false

    /// Load the model (fetching it on first use), logging to stderr.
    func load(maxBatch: Int = 64) throws -> LanguageModel {
        let loaded = try LanguageModel.load(model, threads: threads, context: context, maxBatch: maxBatch,
                                            store: ModelStore(progress: .standardError()))
        guard llamaCppRounding else { return loaded }
        return try loaded.with { $0.rounding = .llamaCpp }
    }
}
