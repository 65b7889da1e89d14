import ChorusGGUF
import ChorusTokenizers
import Foundation
import Testing

/// Special tokens, decoding, streaming and loader errors on the real vocabularies.
@Suite struct TokenizerBehaviourTests {
    @Test func specialTokenParsingOnAndOff() throws {
        let smol = try TestModels.load("smollm2-135m").tokenizer
        #expect(smol.encode("<|im_start|>user", addSpecial: true, parseSpecial: true) == [1, 4093])
        let literal = smol.encode("<|im_start|>user", addSpecial: true, parseSpecial: false)
        #expect(!literal.contains(1))
        #expect(smol.decode(literal, renderSpecial: false) == "<|im_start|>user")
        // A text that is only a special token; SmolLM2 adds no BOS.
        #expect(smol.encode("<|im_end|>", addSpecial: true, parseSpecial: true) == [2])

        let gemma = try TestModels.load("gemma3-270m").tokenizer
        #expect(gemma.encode("<start_of_turn>", addSpecial: true, parseSpecial: true) == [2, 105])
        #expect(!gemma.encode("<start_of_turn>", addSpecial: true, parseSpecial: false).contains(105))
        // User-defined tokens (Gemma's HTML tags, runs of spaces, newlines) are matched even without parseSpecial.
        let table = gemma.encode("a<table>b", addSpecial: false, parseSpecial: false)
        #expect(table.contains(168))
        #expect(gemma.encode("\n", addSpecial: false, parseSpecial: false) == [107])

        let qwen = try TestModels.load("qwen2.5-coder-0.5b").tokenizer
        #expect(qwen.encode("<|im_start|>", addSpecial: true, parseSpecial: true) == [151644])
        #expect(qwen.encode("<tool_call>", addSpecial: false, parseSpecial: false) == [151657])
    }

    @Test func controlPiecesPrintOnlyOnRequest() throws {
        let qwen = try TestModels.load("qwen2.5-coder-0.5b").tokenizer
        #expect(qwen.pieceBytes(151645, renderSpecial: false) == [])
        #expect(qwen.pieceBytes(151645, renderSpecial: true) == Array("<|im_end|>".utf8))
        #expect(qwen.tokenText(151645) == "<|im_end|>")
        #expect(qwen.tokenText(220) == "Ġ")
        #expect(qwen.pieceBytes(220, renderSpecial: false) == [0x20])
        #expect(qwen.decode([151644, 872, 198], renderSpecial: false) == "user\n")
        #expect(qwen.decode([151644, 872, 198], renderSpecial: true) == "<|im_start|>user\n")
        let gemma = try TestModels.load("gemma3-270m").tokenizer
        #expect(gemma.pieceBytes(238 + 0x41, renderSpecial: false) == [0x41])  // <0x41>
        #expect(gemma.pieceBytes(1902, renderSpecial: false) == Array(" world".utf8))
    }

    @Test func specialIDsAndEndOfGeneration() throws {
        let smol = try TestModels.load("smollm2-135m").tokenizer
        #expect(smol.bosID == 1 && smol.eosID == 2 && !smol.addsBOS)
        #expect(smol.endOfGenerationIDs == [0, 2, 4])  // <|endoftext|>, <|im_end|>, <reponame> (FIM repo)
        let gemma = try TestModels.load("gemma3-270m").tokenizer
        #expect(gemma.bosID == 2 && gemma.eosID == 1 && gemma.addsBOS)
        #expect(gemma.endOfGenerationIDs == [1, 106, 212])  // <eos>, <end_of_turn>, </s>
        #expect(gemma.vocabularySize == 262_144)
        for model in ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] {
            let qwen = try TestModels.load(model).tokenizer
            #expect(qwen.bosID == 151643 && qwen.eosID == 151645 && !qwen.addsBOS)
            // <|endoftext|>, <|im_end|>, <|fim_pad|>, <|repo_name|>, <|file_sep|> (as llama.cpp reports),
            // and "</s>" (128247), a plain BPE token here, which llama.cpp lists as end of generation by text
            #expect(qwen.endOfGenerationIDs == [128247, 151643, 151645, 151662, 151663, 151664])
        }
    }

    @Test func streamingDecoderHoldsBackSplitCharacters() throws {
        // Gemma byte-fallback tokens <0xF0> <0x9F> <0x98> <0x80> spell U+1F600.
        let gemma = try TestModels.load("gemma3-270m").tokenizer
        var decoder = StreamingDecoder(tokenizer: gemma)
        #expect(decoder.append(238 + 0xF0) == "")
        #expect(decoder.append(238 + 0x9F) == "")
        #expect(decoder.append(238 + 0x98) == "")
        #expect(decoder.append(238 + 0x80) == "😀")
        #expect(decoder.append(9259) == "Hello")

        // Characters no vocabulary has whole come out as several byte tokens.
        let text = "a\u{10FFFD}b 𝔘𝔫𝔦 😀🚀 é ok"
        for model in TestModels.ids {
            let tokenizer = try TestModels.load(model).tokenizer
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            var streaming = StreamingDecoder(tokenizer: tokenizer)
            var pieces: [String] = []
            for id in ids { pieces.append(streaming.append(id)) }
            #expect(pieces.joined() == text, "\(model)")
            #expect(!pieces.joined().contains("\u{FFFD}"), "\(model)")
            #expect(pieces.contains(""), "\(model): some token ends inside a character")
            #expect(streaming.flush() == "")
        }
    }

    @Test func streamingDecoderReplacesInvalidBytes() throws {
        let gemma = try TestModels.load("gemma3-270m").tokenizer
        var decoder = StreamingDecoder(tokenizer: gemma)
        #expect(decoder.append(238 + 0xFF) == "\u{FFFD}")  // never valid
        #expect(decoder.append(238 + 0xE2) == "")
        #expect(decoder.append(238 + 0x41) == "\u{FFFD}A")  // lead byte followed by ASCII
        #expect(decoder.append(238 + 0xE2) == "")
        #expect(decoder.flush() == "\u{FFFD}")
    }

    @Test func loaderErrors() {
        #expect(throws: TokenizerError.missingKey("tokenizer.ggml.model")) {
            try TokenizerLoader.load(from: GGUFMetadata())
        }
        #expect(throws: TokenizerError.unsupportedModel("rwkv")) {
            try TokenizerLoader.load(from: GGUFMetadata([("tokenizer.ggml.model", .string("rwkv"))]))
        }
        // A unigram character map whose node array claims more bytes than the map holds.
        #expect(throws: TokenizerError.invalidValue(key: "tokenizer.ggml.precompiled_charsmap",
                                                    reason: "the node array (255 bytes) does not fit in 6 bytes")) {
            try TokenizerLoader.load(from: GGUFMetadata([
                ("tokenizer.ggml.model", .string("t5")),
                ("tokenizer.ggml.tokens", .array(.string, ["<pad>", "</s>", "<unk>", "a"].map { .string($0) })),
                ("tokenizer.ggml.precompiled_charsmap", .array(.uint8, [255, 0, 0, 0, 1, 2].map { .uint8($0) })),
            ]))
        }
        #expect(throws: TokenizerError.missingKey("tokenizer.ggml.tokens")) {
            try TokenizerLoader.load(from: GGUFMetadata([("tokenizer.ggml.model", .string("llama"))]))
        }
        #expect(throws: TokenizerError.unsupportedPreTokenizer("no-such-pre")) {
            try TokenizerLoader.load(from: GGUFMetadata([
                ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("no-such-pre")),
            ]))
        }
        #expect(throws: TokenizerError.invalidValue(key: "tokenizer.ggml.tokens", reason: "the vocabulary is empty")) {
            try TokenizerLoader.load(from: GGUFMetadata([
                ("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .array(.string, [])),
            ]))
        }
    }

    /// A tiny hand-built SentencePiece vocabulary: merges follow scores, unknown characters fall back to bytes.
    @Test func syntheticSentencePiece() throws {
        var tokens = ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab", "abab"]
        var scores: [Float] = [0, 0, 0, -1, -2, -2, -1, -3, -0.5]
        var types = [2, 3, 3, 1, 1, 1, 1, 1, 1]
        for byte in 0 ..< 256 {
            tokens.append(String(format: "<0x%02X>", byte))
            scores.append(0)
            types.append(6)
        }
        let metadata = GGUFMetadata([
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types.map { .int32(Int32($0)) })),
        ])
        let tokenizer = try TokenizerLoader.load(from: metadata)
        // Space prefix on (SentencePiece default), BOS 1 added. "▁abab": "ab" (-1) merges twice, leftmost
        // first; then "abab" (-0.5) outranks "▁ab" (-3), which is stale once the right "ab" is gone.
        #expect(tokenizer.encode("abab", addSpecial: true, parseSpecial: false) == [1, 3, 8])
        // "c" is not in the vocabulary: byte fallback <0x63>.
        #expect(tokenizer.encode("c", addSpecial: false, parseSpecial: false) == [3, 9 + 0x63])
        // llama_detokenize strips the prefix space from the first token only (here BOS, which prints nothing).
        #expect(tokenizer.decode([3, 8, 9 + 0x63], renderSpecial: false) == "ababc")
        #expect(tokenizer.decode([1, 3, 8, 9 + 0x63], renderSpecial: false) == " ababc")
    }
}
