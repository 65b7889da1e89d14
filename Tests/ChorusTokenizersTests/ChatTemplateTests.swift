import ChorusGGUF
import ChorusTokenizers
import Testing

/// Expected renders were derived by hand from each model's Jinja template (SmolLM2 and Qwen2.5 from
/// `tokenizer.chat_template` in their GGUF files, Gemma from the official Gemma 3 template, which the
/// gemma-3-270m GGUF does not embed).
@Suite struct ChatTemplateTests {
    static let conversation = [
        ChatMessage(role: "system", content: "Be brief."),
        ChatMessage(role: "user", content: " Hi there \n"),
        ChatMessage(role: "assistant", content: "Hello!"),
        ChatMessage(role: "user", content: "Bye"),
    ]
    static let toolConversation = [
        ChatMessage(role: "system", content: "S"),
        ChatMessage(role: "user", content: "What time?"),
        ChatMessage(role: "tool", content: "12:00"),
        ChatMessage(role: "tool", content: "UTC"),
        ChatMessage(role: "system", content: "Later"),
        ChatMessage(role: "developer", content: "dropped"),
        ChatMessage(role: "assistant", content: "Noon."),
    ]

    static func template(_ model: String) throws -> ChatTemplate {
        try ChatTemplate.detect(metadata: TestModels.load(model).metadata)
    }

    @Test func smolLM2InjectsItsSystemPrompt() throws {
        let template = try Self.template("smollm2-135m")
        #expect(template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
            == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render(Self.conversation, addGenerationPrompt: false)
            == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there \n<|im_end|>\n"
            + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n")
        // Every role is written out verbatim.
        #expect(template.render(Self.toolConversation, addGenerationPrompt: true)
            == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat time?<|im_end|>\n<|im_start|>tool\n12:00<|im_end|>\n"
            + "<|im_start|>tool\nUTC<|im_end|>\n<|im_start|>system\nLater<|im_end|>\n<|im_start|>developer\ndropped<|im_end|>\n"
            + "<|im_start|>assistant\nNoon.<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render([], addGenerationPrompt: false) == "")
    }

    @Test(arguments: ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    func qwenInjectsItsSystemPromptAndWrapsTools(model: String) throws {
        let template = try Self.template(model)
        #expect(template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
            == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render(Self.conversation, addGenerationPrompt: true)
            == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi there \n<|im_end|>\n"
            + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render(Self.toolConversation, addGenerationPrompt: false)
            == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat time?<|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n12:00\n</tool_response>\n<tool_response>\nUTC\n</tool_response><|im_end|>\n"
            + "<|im_start|>system\nLater<|im_end|>\n<|im_start|>assistant\nNoon.<|im_end|>\n")
    }

    @Test func gemmaMergesSystemIntoFirstTurnAndLeavesBOSToTheTokenizer() throws {
        let template = try Self.template("gemma3-270m")
        #expect(template.family == .gemma)
        #expect(template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
            == "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n")
        #expect(template.render(Self.conversation, addGenerationPrompt: true)
            == "<start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            + "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n")
        // BOS comes from the tokenizer, once.
        let tokenizer = try TestModels.load("gemma3-270m").tokenizer
        let prompt = template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        let ids = tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        #expect(tokenizer.addsBOS)
        #expect(ids.first == tokenizer.bosID)
        #expect(ids.dropFirst().first == 105)  // <start_of_turn>
        #expect(ids.filter { $0 == tokenizer.bosID }.count == 1)
    }

    @Test func detectionFromTemplateTextAndArchitecture() throws {
        func detect(_ pairs: [(String, GGUFValue)]) throws -> ChatTemplate {
            try ChatTemplate.detect(metadata: GGUFMetadata(pairs))
        }
        #expect(try detect([("general.architecture", .string("gemma3"))]).family == .gemma)
        #expect(try detect([("general.architecture", .string("llama"))]).family
            == .chatML(defaultSystemPrompt: nil, qwenToolRoles: false))
        #expect(try detect([("tokenizer.chat_template", .string("{{ '<start_of_turn>' }}"))]).family == .gemma)
        #expect(try detect([("tokenizer.chat_template", .string(
            "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}"))]).family
            == .chatML(defaultSystemPrompt: nil, qwenToolRoles: false))
        #expect(throws: TokenizerError.self) {
            try detect([("tokenizer.chat_template", .string("{{ '<|start_header_id|>' }}"))])
        }
    }
}
