import ChorusGGUF
import ChorusTestSupport
import ChorusTokenizers
import ChorusTraining
import Foundation
import Testing

@Suite struct TrainingDataTests {
    static let model: (tokenizer: any Tokenizer, template: ChatTemplate) = {
        let file = try! GGUFFile(path: try! TestModels.path("smollm2-135m"))
        return (try! TokenizerLoader.load(from: file.metadata), try! ChatTemplate.detect(metadata: file.metadata))
    }()

    static func file(_ name: String, _ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-data-\(UUID().uuidString)-\(name)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func load(_ name: String, _ text: String, seqLen: Int, context: Int = 8192) throws -> [TrainingSequence] {
        let path = try file(name, text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try TrainingData.load(path: path, tokenizer: model.tokenizer, template: model.template, sequenceLength: seqLen, context: context)
    }

    /// Text is cut into windows of L + 1 tokens every L tokens: each window's targets are its inputs shifted
    /// by one, consecutive windows share one token, every token after the first is a target once.
    @Test func packsTextIntoWindows() throws {
        let text = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 20)
        let tokens = Self.model.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        let sequences = try Self.load("t.txt", text, seqLen: 16)
        #expect(sequences.count == (tokens.count - 1) / 16)
        for (i, s) in sequences.enumerated() {
            #expect(s.inputs == Array(tokens[i * 16..<i * 16 + 16]))
            #expect(s.targets == Array(tokens[i * 16 + 1...i * 16 + 16]))
            #expect(s.lossTokens == 16)
        }
    }

    /// Chat JSONL: the loss covers exactly the assistant replies and their end-of-turn marker.
    @Test func chatLossOnAssistantTokensOnly() throws {
        let line1 = #"{"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4."}, {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6, of course."}]}"#
        let line2 = #"{"messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}"#
        let sequences = try Self.load("c.jsonl", line1 + "\n\n" + line2 + "\n", seqLen: 256)
        #expect(sequences.count == 2)
        let tokenizer = Self.model.tokenizer
        func learned(_ s: TrainingSequence) -> String {
            // Runs of loss tokens, decoded, joined by "|".
            var runs: [[Int]] = [], current: [Int] = []
            for (t, m) in zip(s.targets, s.lossMask) {
                if m { current.append(t) } else if !current.isEmpty { runs.append(current); current = [] }
            }
            if !current.isEmpty { runs.append(current) }
            return runs.map { tokenizer.decode($0, renderSpecial: true) }.joined(separator: "|")
        }
        #expect(learned(sequences[0]) == "It is 4.<|im_end|>|6, of course.<|im_end|>")
        #expect(learned(sequences[1]) == "Hello!<|im_end|>")
        // The whole rendered conversation is there (system prompt injected by the template), shifted by one.
        let full = Self.model.template.render([ChatMessage(role: "system", content: "Be terse."), ChatMessage(role: "user", content: "Hi"),
                                               ChatMessage(role: "assistant", content: "Hello!")], addGenerationPrompt: false)
        let tokens = tokenizer.encode(full, addSpecial: true, parseSpecial: true)
        #expect(sequences[1].inputs == Array(tokens.dropLast()) && sequences[1].targets == Array(tokens.dropFirst()))
    }

    @Test func badDataIsAClearError() throws {
        let chat = #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#
        let cases: [(String, String, Int, Int, String)] = [
            ("e.txt", " \n\n ", 16, 8192, "is empty"),
            ("e.jsonl", "\n\n", 16, 8192, "is empty (no conversations)"),
            ("b.jsonl", chat + "\n" + "{\"messages\": [1, 2" + "\n", 64, 8192, "line 2: not valid JSON"),
            ("m.jsonl", chat + "\n" + chat + "\n" + #"{"text": "x"}"#, 64, 8192, "line 3: expected an object with a \"messages\" array"),
            ("r.jsonl", #"{"messages": [{"role": "user"}]}"#, 64, 8192, "line 1: message 1 needs string \"role\" and \"content\""),
            ("n.jsonl", #"{"messages": [{"role": "user", "content": "hi"}]}"#, 64, 8192, "line 1: no assistant message, so there is nothing to learn"),
            ("l.jsonl", chat, 8, 8192, "the conversation is 34 tokens, longer than --seq-len 8 + 1 (raise --seq-len or shorten it)"),
            ("s.txt", "Just a few words.", 64, 8192, "has 5 tokens, fewer than --seq-len 64 + 1: lower --seq-len or add text"),
        ]
        for (name, text, seqLen, context, message) in cases {
            do {
                _ = try Self.load(name, text, seqLen: seqLen, context: context)
                Issue.record("\(name): loaded bad data, expected '\(message)'")
            } catch let error as TrainingError {
                #expect(error.description.hasSuffix(message), "\(name): \(error)")
                #expect(!error.description.contains("\n"))
            }
        }
        #expect(throws: TrainingError.invalidOption("--seq-len 9000 is longer than the model's context of 8192 tokens")) {
            _ = try Self.load("x.txt", "hello", seqLen: 9000)
        }
        #expect(throws: TrainingError.invalidData("cannot read training data '/nonexistent/d.txt' (missing or unreadable)")) {
            _ = try TrainingData.load(path: "/nonexistent/d.txt", tokenizer: Self.model.tokenizer, template: Self.model.template, sequenceLength: 8, context: 64)
        }
    }

    /// The order is a permutation per epoch, fixed by the seed, different across seeds and epochs, and a
    /// saved state continues exactly.
    @Test func shufflingIsDeterministicAndResumable() throws {
        var a = try DataOrder(count: 10, seed: 1), b = try DataOrder(count: 10, seed: 1), c = try DataOrder(count: 10, seed: 2)
        let first = a.next(10), second = a.next(10)
        #expect(first.sorted() == Array(0..<10) && second.sorted() == Array(0..<10))
        #expect(first != second && first != Array(0..<10))
        #expect(b.next(20) == first + second)
        #expect(c.next(10) != first)
        var d = try DataOrder(count: 10, seed: 1)
        _ = d.next(13)
        let saved = try JSONEncoder().encode(d)
        var resumed = try JSONDecoder().decode(DataOrder.self, from: saved)
        #expect(resumed.next(17) == d.next(17))
        var plain = try DataOrder(count: 4, seed: 9, shuffled: false)
        #expect(plain.next(6) == [0, 1, 2, 3, 0, 1])
        #expect(throws: TrainingError.invalidData("there are no training sequences")) { _ = try DataOrder(count: 0, seed: 1) }
    }
}

@Suite struct StepBatchTests {
    @Test func splitsTheBatchInOrderAndScalesByLossTokens() throws {
        let sequences = (0..<6).map { i in
            TrainingSequence(inputs: Array(repeating: i, count: 4), targets: Array(repeating: i, count: 4), lossMask: [true, i % 2 == 0, false, true])
        }
        var order = try DataOrder(count: 6, seed: 4), copy = order
        let step = try StepBatch.next(from: sequences, order: &order, batch: 4, microbatches: 2)
        let indices = copy.next(4)
        #expect(step.microbatches.count == 2 && step.microbatches.allSatisfy { $0.count == 2 })
        #expect(step.microbatches.flatMap { $0 } == indices.map { sequences[$0] })
        let tokens = indices.map { sequences[$0].lossTokens }.reduce(0, +)
        #expect(step.lossTokens == tokens && step.lossScale == 1 / Float(tokens))
        #expect(throws: TrainingError.invalidOption("--batch 5 is not a multiple of --microbatches 2 (each micro-batch takes the same number of sequences)")) {
            _ = try StepBatch.next(from: sequences, order: &order, batch: 5, microbatches: 2)
        }
    }
}
