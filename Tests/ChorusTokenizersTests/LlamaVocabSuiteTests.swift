import ChorusGGUF
import ChorusTestSupport
import Foundation
import Testing
@testable import ChorusTokenizers

/// llama.cpp's own tokenizer suite: every vocabulary-only GGUF it ships (`models/ggml-vocab-*.gguf`, fetched
/// by `scripts/llama-vocab/fetch.py` from the llama-cpp-python sdist) with every case of its `.gguf.inp`
/// checked against its `.gguf.out`, as `tests/test-tokenizer-0.cpp` does (no BOS/EOS added, special tokens
/// not parsed). The four vocabularies without cases run the llama-spm inputs against ids llama.cpp itself
/// produced (`Tests/Fixtures/llama-vocab`, made by `scripts/llama-vocab/dump.py`), and every vocabulary
/// runs our harder inputs (`extra.inp`: more scripts, fullwidth forms, non-ASCII whitespace, combining
/// marks, control characters, special-token texts) against llama.cpp's ids too. Every case also checks the
/// detokenized text against llama.cpp's (`llama_detokenize` with remove_special and unparse_special, what
/// `chorus detokenize` does), which fixes where a round trip gives the input back.
@Suite struct LlamaVocabSuiteTests {
    static let vocabularies = [
        "aquila", "baichuan", "bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon", "gemma-4", "gpt-2",
        "gpt-neox", "llama-bpe", "llama-spm", "mpt", "nomic-bert-moe", "phi-3", "qwen2", "qwen35", "refact", "starcoder",
    ]

    struct Expected: Decodable {
        struct Case: Decodable {
            let ids: [Int]
            let text: String
        }
        let vocabulary: String
        let llama_cpp: String
        let input: String
        let cases: [Case]
        let extra: [Case]
    }

    /// The cases of a `.inp` file, split as test-tokenizer-0.cpp's `read_tests` does: on the bytes (a case
    /// ending in "\r" must not join the separator's "\n" into one Character).
    static func readCases(_ url: URL) throws -> [String] {
        let raw = [UInt8](try Data(contentsOf: url))
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var cases: [String] = []
        var start = 0, position = 0
        while start < raw.count {
            while position + separator.count <= raw.count, !raw[position ..< position + separator.count].elementsEqual(separator) {
                position += 1
            }
            guard position + separator.count <= raw.count else {
                cases.append(String(decoding: raw[start...], as: UTF8.self))
                break
            }
            cases.append(String(decoding: raw[start ..< position], as: UTF8.self))
            position += separator.count
            start = position
        }
        return cases
    }

    /// The expected ids of a `.out` file: one line per case, ids separated by spaces.
    static func readIDs(_ url: URL) throws -> [[Int]] {
        var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.split(separator: " ").map { Int($0) ?? -1 } }
    }

    struct Tally {
        var vocabularies = 0, cases = 0, extraCases = 0, passed = 0, detokenized = 0, roundTrips = 0, llamaRoundTrips = 0
    }

    @Test func everyCaseOfEveryVocabulary() throws {
        let directory = LlamaVocabSuite.directory
        let listed = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        try #require(listed.contains("COMPLETE"), "\(LlamaVocabSuite.NotFetched(directory: directory.path))")
        let present = Set(listed.filter { $0.hasPrefix("ggml-vocab-") && $0.hasSuffix(".gguf") })
        #expect(present == Set(Self.vocabularies.map { "ggml-vocab-\($0).gguf" }), "the suite's vocabularies changed: update the list and the fixtures")
        var tally = Tally()
        for name in Self.vocabularies {
            try check(name, in: directory, &tally)
        }
        print("llama.cpp tokenizer suite: \(tally.vocabularies) vocabularies, \(tally.cases) cases (and \(tally.extraCases) of extra.inp), "
            + "\(tally.passed) ids exact, "
            + "\(tally.detokenized) detokenized exactly as llama.cpp; round trip gives the input back in \(tally.roundTrips) cases "
            + "(llama.cpp: \(tally.llamaRoundTrips))")
        #expect(tally.vocabularies == Self.vocabularies.count)
        let total = tally.cases + tally.extraCases
        #expect(tally.passed == total && tally.detokenized == total && tally.roundTrips == tally.llamaRoundTrips)
    }

    func check(_ name: String, in directory: URL, _ tally: inout Tally) throws {
        let file = "ggml-vocab-\(name).gguf"
        let url = directory.appendingPathComponent(file)
        let fixture = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: TestModels.fixturesDirectory.appendingPathComponent("llama-vocab/ggml-vocab-\(name).json")))
        #expect(fixture.llama_cpp == "llama-cpp-python \(LlamaVocabSuite.version)", "\(name): fixture made with \(fixture.llama_cpp)")
        let tokenizer: any Tokenizer
        do {
            tokenizer = try TokenizerLoader.load(from: GGUFFile(path: url.path).metadata)
        } catch {
            Issue.record("\(file): cannot load: \(error)")
            return
        }
        let inputs = try Self.readCases(directory.appendingPathComponent(fixture.input))
        let hasOwnCases = FileManager.default.fileExists(atPath: url.path + ".out")
        let expectedIDs = hasOwnCases ? try Self.readIDs(URL(fileURLWithPath: url.path + ".out")) : fixture.cases.map(\.ids)
        try #require(inputs.count == expectedIDs.count && inputs.count == fixture.cases.count, "\(name): case counts differ")
        let passed = run(tokenizer, name, inputs, expectedIDs, fixture.cases, &tally)
        let extraInputs = try Self.readCases(TestModels.fixturesDirectory.appendingPathComponent("llama-vocab/extra.inp"))
        try #require(extraInputs.count == fixture.extra.count, "\(name): extra case counts differ")
        let extraPassed = run(tokenizer, name + " extra", extraInputs, fixture.extra.map(\.ids), fixture.extra, &tally)
        print("\(file): \(passed) of \(inputs.count) cases exact (\(hasOwnCases ? "its .out" : "llama.cpp's ids on \(fixture.input)")), "
            + "\(extraPassed) of \(extraInputs.count) extra")
        tally.vocabularies += 1
        tally.cases += inputs.count
        tally.extraCases += extraInputs.count
    }

    /// Encodes each input, compares ids and detokenized text with llama.cpp's; returns how many ids matched.
    func run(_ tokenizer: any Tokenizer, _ name: String, _ inputs: [String], _ expectedIDs: [[Int]], _ llama: [Expected.Case],
             _ tally: inout Tally) -> Int {
        var passed = 0
        for (i, text) in inputs.enumerated() {
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            if ids == expectedIDs[i] { passed += 1 } else {
                Issue.record("\(name) case \(i) \(text.debugDescription): got \(ids), llama.cpp \(expectedIDs[i])")
            }
            let detokenized = tokenizer.detokenize(expectedIDs[i], removeSpecial: true, renderSpecial: true)
            let llamaText = Array(llama[i].text.utf8)
            if detokenized == llamaText { tally.detokenized += 1 } else {
                Issue.record("\(name) case \(i): detokenized \(String(decoding: detokenized, as: UTF8.self).debugDescription), llama.cpp \(llama[i].text.debugDescription)")
            }
            let roundTrip = tokenizer.detokenize(ids, removeSpecial: true, renderSpecial: true) == Array(text.utf8)
            let llamaRoundTrip = llamaText == Array(text.utf8)
            if roundTrip { tally.roundTrips += 1 }
            if llamaRoundTrip { tally.llamaRoundTrips += 1 }
            #expect(roundTrip == llamaRoundTrip, "\(name) case \(i): round trip \(roundTrip ? "exact" : "not exact"), llama.cpp's \(llamaRoundTrip ? "exact" : "not")")
        }
        tally.passed += passed
        return passed
    }
}
