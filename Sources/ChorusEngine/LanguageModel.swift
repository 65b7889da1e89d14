import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTokenizers
import Foundation

/// A model ready for text: the mapped GGUF file, its transformer, tokenizer and chat template.
///
/// This is the library's entry point: `try LanguageModel.load("smollm2-135m")` fetches the model on
/// first use, then `Generator`, `DecodeLoop`, `BatchScheduler` and `Perplexity` run it.
public final class LanguageModel: @unchecked Sendable {
    public let path: String
    public let file: GGUFFile
    public let transformer: Transformer
    public let tokenizer: any Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Tokens a sequence may hold (the KV cache size).
    public let contextLength: Int

    public var config: ModelConfig { transformer.config }
    /// What runs a batch through the whole model: the transformer itself, or (when the model is split
    /// across processes) a driver that runs it with the other ranks. Generation, perplexity and
    /// benchmarks call this.
    public var forwardPass: any ForwardPass

    /// Load a .gguf file (`LanguageModel.load` in `Chorus` also takes catalog ids, fetching them).
    ///
    /// - Parameters:
    ///   - pool: threads for the operators (the caller's thread included).
    ///   - context: KV-cache size; nil means the smaller of the trained context and 4096.
    ///   - maxBatch: rows per forward pass (prefill chunk, widest token tree, rows of a batched step).
    ///   - part: the blocks and tensor slice this process runs (the whole model by default).
    public init(path: String, pool: ThreadPool, context: Int? = nil, maxBatch: Int = 64, part: ModelPart = .whole) throws {
        self.path = path
        file = try GGUFFile(path: path)
        let config = try ModelConfig(metadata: file.metadata)
        let length = context ?? min(config.trainedContextLength, 4096)
        guard length >= 1 else { throw ModelError.invalidConfig("context must be at least 1 token") }
        contextLength = length
        tokenizer = try TokenizerLoader.load(from: file.metadata)
        chatTemplate = try? ChatTemplate.detect(metadata: file.metadata)
        transformer = try Transformer(file: file, pool: pool, contextCapacity: length, maxBatch: maxBatch, part: part)
        forwardPass = transformer
        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw ModelError.invalidConfig("tokenizer has \(tokenizer.vocabularySize) tokens, the model \(config.vocabularySize)")
        }
    }

    /// `source` running under another execution context: the same file, tokenizer and blocks.
    private init(_ source: LanguageModel, transformer: Transformer) {
        path = source.path
        file = source.file
        tokenizer = source.tokenizer
        chatTemplate = source.chatTemplate
        contextLength = source.contextLength
        self.transformer = transformer
        if let local = source.forwardPass as? any LocalForwardPass, local.transformer === source.transformer {
            forwardPass = local.over(transformer)
        } else {
            forwardPass = source.forwardPass
        }
    }

    /// This model running under its execution context changed by `change` (partition plan,
    /// rounding, profiler, output-head rows...; `Transformer.with`): a view sharing the file,
    /// tokenizer, weights and workspace, so the model others hold is untouched. A model split
    /// across processes gets its driver over the view (`LocalForwardPass`), so the settings reach
    /// this process's part.
    public func with(_ change: (inout ExecutionContext) -> Void) throws -> LanguageModel {
        LanguageModel(self, transformer: try transformer.with(change))
    }

    /// Threads used when none are given: every core.
    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// A KV cache of `contextLength` slots.
    public func makeCache() -> KVCache { transformer.makeCache(capacity: contextLength) }

    /// Rows one forward pass takes.
    public var maxBatch: Int { transformer.maxBatch }

    /// Token ids of `text` (special tokens parsed, BOS as the model's metadata says).
    public func tokenize(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int] {
        tokenizer.encode(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }

    /// `prompt` as one user turn in the model's chat template, ready for the assistant's reply.
    public func chatPrompt(_ prompt: String) throws -> String {
        try chatPrompt([ChatMessage(role: "user", content: prompt)])
    }

    public func chatPrompt(_ messages: [ChatMessage]) throws -> String {
        guard let chatTemplate else { throw EngineError.noChatTemplate }
        return chatTemplate.render(messages, addGenerationPrompt: true)
    }
}

/// Errors of the generation layer, each a readable line.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case noChatTemplate
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .promptTooLong(let tokens, let context):
            return "the prompt has \(tokens) tokens, more than the context of \(context) (raise --context or shorten it)"
        case .emptyPrompt: return "the prompt is empty and the model adds no BOS token: nothing to continue from"
        case .noChatTemplate: return "this model has no chat template I recognise"
        case .invalidArgument(let message): return message
        }
    }
}
