import ChorusTokenizers
import Testing

/// Edge cases beyond the oracle fixtures (empty text, runs of spaces and newlines, long digit runs, mixed
/// scripts, emoji sequences, unusual whitespace, uppercase contractions, lone special tokens), with ids
/// produced by llama.cpp.
@Suite struct EdgeCaseTests {
    @Test(arguments: TestModels.ids)
    func matchesLlamaCpp(model: String) throws {
        let tokenizer = try TestModels.load(model).tokenizer
        let cases = LlamaCppEdgeCases.cases.filter { $0.model == model }
        #expect(cases.count >= 40)
        for testCase in cases {
            let ids = tokenizer.encode(testCase.text, addSpecial: testCase.addSpecial, parseSpecial: testCase.parseSpecial)
            #expect(ids == testCase.ids, "\(model) \(testCase.name) add=\(testCase.addSpecial) parse=\(testCase.parseSpecial)")
        }
    }

    /// Plain text (no special-token parsing) decodes back to itself, except that a literal "▁" reads back
    /// as a space from a SentencePiece vocabulary (it is SentencePiece's own space symbol).
    @Test(arguments: TestModels.ids)
    func roundTrips(model: String) throws {
        let tokenizer = try TestModels.load(model).tokenizer
        for testCase in LlamaCppEdgeCases.cases where testCase.model == model && !testCase.parseSpecial {
            if model == "gemma3-270m", testCase.text.contains("▁") { continue }
            let ids = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(ids, renderSpecial: false) == testCase.text, "\(model) \(testCase.name)")
        }
    }
}
