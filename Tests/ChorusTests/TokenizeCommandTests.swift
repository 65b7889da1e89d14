import ChorusTestSupport
import Foundation
import Testing

/// `chorus tokenize` and `chorus detokenize` as a user runs them: on any GGUF with a vocabulary, whatever its
/// architecture and with no weights (llama.cpp's vocabulary-only files), ids as llama.cpp gives them
/// (Tests/Fixtures/llama-vocab), and detokenize the inverse of tokenize.
@Suite struct TokenizeCommandTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let ids: [Int]
            let text: String
        }
        let cases: [Case]
    }

    static func fixture(_ name: String) throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.directory + "/llama-vocab/ggml-vocab-\(name).json")))
    }

    /// Vocabulary-only files of architectures Chorus cannot run (bert, falcon, gemma4, nomic-bert-moe) and
    /// one it can (llama): the same ids as llama.cpp, and back.
    @Test(arguments: ["bert-bge", "falcon", "gemma-4", "nomic-bert-moe", "deepseek-llm", "qwen35"])
    func vocabularyOnlyFiles(name: String) throws {
        let path = try LlamaVocabSuite.path(name)
        let expected = try Self.fixture(name).cases[11]  // "Hello world"
        let tokenized = try ChorusExecutable.run(["tokenize", "-m", path, "--no-special", "--no-parse-special", "--json", "Hello world"])
        #expect(tokenized.status == 0, "\(tokenized.stderr)")
        #expect(tokenized.stdout == "{\"ids\":[\(expected.ids.map(String.init).joined(separator: ","))]}\n", "\(name): \(tokenized.stdout)")
        let detokenized = try ChorusExecutable.run(["detokenize", "-m", path] + expected.ids.map(String.init))
        #expect(detokenized.status == 0, "\(detokenized.stderr)")
        #expect(detokenized.stdout == expected.text, "\(name): \(detokenized.stdout.debugDescription)")
    }

    /// With the default flags (BOS added, special tokens parsed) and the same on the way back, the text
    /// returns unchanged; ids can come as words, one string, JSON, or on stdin.
    @Test func roundTripWithSpecialTokens() throws {
        let model = try TestModels.path("smollm2-135m")
        let text = "<|im_start|>user\nHello, world! It's   spaced\ttabs.<|im_end|>\n"
        let tokenized = try ChorusExecutable.run(["tokenize", "-m", model, text])
        #expect(tokenized.status == 0, "\(tokenized.stderr)")
        let ids = tokenized.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ids.split(separator: " ").count > 5)
        for arguments in [ids.split(separator: " ").map(String.init), [ids], ["[" + ids.replacingOccurrences(of: " ", with: ", ") + "]"]] {
            let back = try ChorusExecutable.run(["detokenize", "-m", model] + arguments)
            #expect(back.status == 0 && back.stdout == text, "\(arguments): \(back.stdout.debugDescription) \(back.stderr)")
        }
        let piped = try ChorusExecutable.run(["detokenize", "-m", model], stdin: ids + "\n")
        #expect(piped.stdout == text)
        let json = try ChorusExecutable.run(["detokenize", "-m", model, "--json", ids])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: String])
        #expect(object["text"] == text)
        // Without parsing special tokens, their text is plain text, and still comes back.
        let plain = try ChorusExecutable.run(["tokenize", "-m", model, "--no-parse-special", text])
        let plainBack = try ChorusExecutable.run(["detokenize", "-m", model, "--no-parse-special", plain.stdout])
        #expect(plainBack.stdout == text && plain.stdout != tokenized.stdout)
    }

    @Test func badIdsAreOneLineErrors() throws {
        let path = try LlamaVocabSuite.path("gpt-2")  // 50257 tokens
        for (ids, message) in [
            (["50257"], "Error: token id 50257 is out of range (allowed: 0 to 50256, the vocabulary's size is 50257)"),
            (["1", "-3"], "Error: token id -3 is out of range (allowed: 0 to 50256"),
            (["12", "x7"], "Error: 'x7' is not a token id (ids are whole numbers, 0 to 50256)"),
            (["99999999999999999999999"], "is not a token id"),
        ] {
            let outcome = try ChorusExecutable.run(["detokenize", "-m", path] + ids)
            #expect(outcome.status != 0 && outcome.stdout.isEmpty)
            #expect(outcome.stderr.contains(message), "\(ids): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "\(ids): \(outcome.stderr)")
        }
    }

    /// A file whose tokenizer Chorus does not implement, or no GGUF at all: one line saying so.
    @Test func unsupportedFilesAreOneLineErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-tokenize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let notGGUF = directory.appendingPathComponent("text.gguf").path
        try "not a gguf file".write(toFile: notGGUF, atomically: true, encoding: .utf8)
        let outcome = try ChorusExecutable.run(["tokenize", "-m", notGGUF, "hello"])
        #expect(outcome.status != 0 && outcome.stderr.hasPrefix("Error: ") && outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }
}
