import ChorusModels
import ChorusTokenizers

/// A conversation in the model's chat template that keeps its KV cache between turns: each turn
/// evaluates only what the new rendering adds to the tokens already cached.
public final class ChatSession {
    public let model: LanguageModel
    public private(set) var messages: [ChatMessage]
    private let cache: KVCache
    /// The tokens whose keys and values `cache` holds (slots 0..<cache.count).
    private var cachedIDs: [Int] = []

    /// - Throws: `EngineError.noChatTemplate` for a model without one.
    public init(model: LanguageModel, system: String? = nil) throws {
        guard model.chatTemplate != nil else { throw EngineError.noChatTemplate }
        self.model = model
        messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        cache = model.makeCache()
    }

    /// The assistant's answer to `text` as the next user turn (added to the conversation with it).
    /// A reply that filled the context ends with `.contextFull`: start a new session then.
    public func reply(to text: String, maxTokens: Int, sampling: SamplingParameters,
                      onToken: (Int, String) -> Bool = { _, _ in true }) throws -> GenerationResult {
        messages.append(ChatMessage(role: "user", content: text))
        let ids = model.tokenize(try model.chatPrompt(messages), addSpecial: true, parseSpecial: true)
        // Keep the cached tokens that the new rendering starts with.
        cache.trim(to: zip(cachedIDs, ids).prefix { $0 == $1 }.count)
        let result = try Generator(model: model).generate(promptIDs: ids, cache: cache, maxTokens: maxTokens, sampling: sampling,
                                                          onToken: onToken)
        messages.append(ChatMessage(role: "assistant", content: result.text))
        cachedIDs = ids + result.ids
        return result
    }
}
