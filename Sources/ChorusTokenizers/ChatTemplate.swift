import ChorusGGUF

/// Renders a conversation into the prompt text a model was trained on, without a Jinja engine.
///
/// Each supported family reproduces, for plain role/content messages, what the model's own Jinja
/// template (`tokenizer.chat_template`) renders, including a default system prompt the template injects:
///
/// - ChatML (SmolLM2, Qwen2.5): `<|im_start|>role\ncontent<|im_end|>\n` per message. The default system
///   prompt is read from the template's text. Qwen2.5's template (recognised by its `<tool_response>`
///   handling) always opens with a system turn, wraps `tool` messages in a user turn, and drops other roles.
/// - Gemma: `<start_of_turn>role\ncontent<end_of_turn>\n`, "assistant" renamed "model", content trimmed, a
///   leading system message prefixed to the first turn followed by a blank line.
///
/// BOS is not part of the rendered text: the tokenizer adds it when encoding with `addSpecial: true`.
/// llama-server does the same: after rendering a Jinja template it strips a leading `bos_token` when the
/// vocabulary's add_bos is set (`common/chat.cpp`), then tokenizes with add_special, so BOS appears once.
///
/// Gemma: the gemma-3-270m GGUF carries no `tokenizer.chat_template`. llama-server would then fall back
/// to ChatML (`CHATML_TEMPLATE_SRC`), which the model was not trained on; we render the official Gemma 3
/// template instead, chosen by `general.architecture`.
///
/// Where a Jinja template would raise an error (Gemma: roles not alternating; Qwen2.5: no messages at
/// all) we render anyway, following the template's text for what it does define.
public struct ChatTemplate: Sendable, Equatable {
    /// The template families Chorus can render.
    public enum Family: Sendable, Equatable {
        /// ChatML. `defaultSystemPrompt` is injected when the first message is not a system message.
        case chatML(defaultSystemPrompt: String?, qwenToolRoles: Bool)
        /// Gemma's turn markers.
        case gemma
    }

    public let family: Family

    public init(family: Family) {
        self.family = family
    }

    /// Picks the family from the GGUF (tokenizer.chat_template text and/or general.architecture): ChatML (SmolLM2, Qwen2.5), Gemma turn markers.
    ///
    /// Without a template, Gemma architectures get the Gemma family (the official Gemma 3 template;
    /// the gemma-3-270m GGUF ships none) and other architectures plain ChatML, llama.cpp's own fallback.
    /// - Throws: `TokenizerError.unsupportedChatTemplate` for a template of another family.
    public static func detect(metadata: GGUFMetadata) throws -> ChatTemplate {
        let template = metadata["tokenizer.chat_template"]?.stringValue
        let architecture = metadata["general.architecture"]?.stringValue ?? ""
        guard let template, !template.isEmpty else {
            if architecture.hasPrefix("gemma") { return ChatTemplate(family: .gemma) }
            return ChatTemplate(family: .chatML(defaultSystemPrompt: nil, qwenToolRoles: false))
        }
        if template.contains("<start_of_turn>") { return ChatTemplate(family: .gemma) }
        if template.contains("<|im_start|>") {
            return ChatTemplate(family: .chatML(
                defaultSystemPrompt: defaultSystemPrompt(inChatMLTemplate: template),
                qwenToolRoles: template.contains("<tool_response>")))
        }
        throw TokenizerError.unsupportedChatTemplate(
            "tokenizer.chat_template of architecture '\(architecture)' is neither ChatML nor Gemma")
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        switch family {
        case .chatML(let defaultSystemPrompt, let qwenToolRoles):
            return qwenToolRoles
                ? renderQwen(messages, defaultSystemPrompt: defaultSystemPrompt, addGenerationPrompt: addGenerationPrompt)
                : renderChatML(messages, defaultSystemPrompt: defaultSystemPrompt, addGenerationPrompt: addGenerationPrompt)
        case .gemma:
            return renderGemma(messages, addGenerationPrompt: addGenerationPrompt)
        }
    }

    // MARK: - Families

    /// SmolLM2's template: every message as a ChatML block, the default system block first when the
    /// conversation does not open with a system message (nothing at all for no messages).
    private func renderChatML(_ messages: [ChatMessage], defaultSystemPrompt: String?, addGenerationPrompt: Bool) -> String {
        var out = ""
        if let first = messages.first, first.role != "system", let defaultSystemPrompt {
            out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for message in messages {
            out += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }

    /// Qwen2.5's template without tools: a system block (the first message's, else the default), then
    /// user/assistant/later system messages as blocks, runs of tool messages as one user block of
    /// `<tool_response>` sections, and nothing for other roles.
    private func renderQwen(_ messages: [ChatMessage], defaultSystemPrompt: String?, addGenerationPrompt: Bool) -> String {
        var out = ""
        if let first = messages.first, first.role == "system" {
            out += "<|im_start|>system\n\(first.content)<|im_end|>\n"
        } else if let defaultSystemPrompt {
            out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for (index, message) in messages.enumerated() {
            switch message.role {
            case "user", "assistant":
                out += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
            case "system" where index > 0:
                out += "<|im_start|>system\n\(message.content)<|im_end|>\n"
            case "tool":
                if index == 0 || messages[index - 1].role != "tool" { out += "<|im_start|>user" }
                out += "\n<tool_response>\n\(message.content)\n</tool_response>"
                if index == messages.count - 1 || messages[index + 1].role != "tool" { out += "<|im_end|>\n" }
            default:
                break
            }
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }

    /// Gemma 3's template: a leading system message becomes a prefix of the first remaining turn;
    /// "assistant" is "model"; content is trimmed (the prefix is not). The template raises an error when
    /// user and model turns do not alternate; we render such conversations anyway.
    private func renderGemma(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        var prefix = ""
        var turns = messages[...]
        if let first = messages.first, first.role == "system" {
            prefix = first.content + "\n\n"
            turns = messages.dropFirst()
        }
        for (index, message) in turns.enumerated() {
            let role = message.role == "assistant" ? "model" : message.role
            out += "<start_of_turn>\(role)\n" + (index == 0 ? prefix : "")
            out += Self.jinjaTrim(message.content) + "<end_of_turn>\n"
        }
        if addGenerationPrompt { out += "<start_of_turn>model\n" }
        return out
    }

    // MARK: - Helpers

    /// Jinja's `trim` filter: Python's `str.strip()`, which removes Unicode whitespace at both ends.
    static func jinjaTrim(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !isPythonWhitespace($0) }) else { return "" }
        let end = scalars.lastIndex(where: { !isPythonWhitespace($0) })!
        return String(scalars[start ... end])
    }

    private static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        // str.isspace: White_Space plus the information separators U+001C...U+001F.
        scalar.properties.isWhitespace || (0x1C ... 0x1F).contains(scalar.value)
    }

    /// Finds the literal system prompt in a ChatML template, e.g. SmolLM2's
    /// `'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, ...<|im_end|>\n'` or Qwen's
    /// `'<|im_start|>system\nYou are Qwen, ...<|im_end|>\n'`: the first `<|im_start|>system` followed by a
    /// newline (real or escaped) and plain text up to `<|im_end|>` inside one quoted Jinja string.
    static func defaultSystemPrompt(inChatMLTemplate template: String) -> String? {
        let marker = "<|im_start|>system"
        var searchStart = template.startIndex
        while let markerRange = template[searchStart...].firstRange(of: marker) {
            searchStart = markerRange.upperBound
            var rest = template[markerRange.upperBound...]
            if rest.hasPrefix("\\n") { rest = rest.dropFirst(2) } else if rest.hasPrefix("\n") { rest = rest.dropFirst() } else { continue }
            guard let end = rest.firstRange(of: "<|im_end|>") else { continue }
            let literal = rest[..<end.lowerBound]
            // Must stay inside the string literal: no quote ends it, no expression or tag interrupts it.
            guard !literal.isEmpty, !literal.contains("'"), !literal.contains("\""), !literal.contains("{"),
                !literal.contains("}")
            else { continue }
            return unescapeJinjaString(String(literal))
        }
        return nil
    }

    /// Undoes the escapes of a Jinja (Python-style) string literal that templates use.
    static func unescapeJinjaString(_ text: String) -> String {
        var out = ""
        var iterator = text.makeIterator()
        while let c = iterator.next() {
            guard c == "\\", let escaped = iterator.next() else {
                out.append(c)
                continue
            }
            switch escaped {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            default: out.append(escaped)
            }
        }
        return out
    }
}
