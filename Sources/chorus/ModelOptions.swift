import ArgumentParser
import Chorus

/// Options every model-running command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "A catalog id (see `chorus models`) or a path to a .gguf file.")
    var model: String = ModelCatalog.defaultModelID

    @Option(name: .shortAndLong, help: "Threads for the operators (default: every core).")
    var threads: Int = LanguageModel.defaultThreads

    @Option(name: [.customShort("c"), .long], help: "Context length in tokens (default: the model's, at most 4096).")
    var context: Int?

    @Flag(help: "Round batched K-quant products as llama.cpp does (bit-identical logits; gives up batch invariance).")
    var llamaCppRounding = false

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        if let context, context < 1 || context > 1 << 20 { throw ValidationError("--context must be between 1 and 1048576") }
    }

    /// Load the model (fetching it on first use), logging to stderr.
    func load(maxBatch: Int = 64) throws -> LanguageModel {
        let loaded = try LanguageModel.load(model, threads: threads, context: context, maxBatch: maxBatch,
                                            store: ModelStore(progress: .standardError()))
        guard llamaCppRounding else { return loaded }
        return try loaded.with { $0.rounding = .llamaCpp }
    }
}
