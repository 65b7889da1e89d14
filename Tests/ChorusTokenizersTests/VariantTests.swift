import ChorusGGUF
import ChorusTokenizers
import Testing

/// Pre-tokenizers and options the catalog models do not use (`default`, `gpt-2`, `llama3`, `starcoder`
/// pre-tokenizers on SmolLM2's vocabulary; Gemma's SentencePiece with `add_space_prefix`), built by
/// changing one metadata key, against llama.cpp run on GGUF copies with the same change.
@Suite struct VariantTests {
    @Test func matchesLlamaCpp() throws {
        var tokenizers: [String: any Tokenizer] = [:]
        for testCase in LlamaCppVariantCases.cases {
            let variant = "\(testCase.model) \(testCase.key)=\(testCase.value)"
            if tokenizers[variant] == nil {
                var metadata = try TestModels.load(testCase.model).metadata
                metadata[testCase.key] = testCase.value == "true" ? .bool(true) : .string(testCase.value)
                tokenizers[variant] = try TokenizerLoader.load(from: metadata)
            }
            let tokenizer = tokenizers[variant]!
            let ids = tokenizer.encode(testCase.text, addSpecial: testCase.addSpecial, parseSpecial: testCase.parseSpecial)
            #expect(ids == testCase.ids, "\(variant): \(testCase.name) add=\(testCase.addSpecial) parse=\(testCase.parseSpecial)")
            #expect(tokenizer.decode(testCase.ids, renderSpecial: testCase.parseSpecial) == testCase.decoded,
                    "\(variant): decode \(testCase.name)")
        }
        #expect(tokenizers.count == 5)
    }
}
