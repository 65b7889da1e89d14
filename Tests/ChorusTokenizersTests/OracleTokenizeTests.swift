import ChorusTokenizers
import Testing

/// Every `tokenize` case of every model's llama.cpp oracle must give exactly llama.cpp's ids.
@Suite struct OracleTokenizeTests {
    @Test(arguments: TestModels.ids)
    func matchesLlamaCpp(model: String) throws {
        let oracle = try TestModels.oracle(model)
        #expect(!oracle.tokenize.isEmpty)
        let tokenizer = try TestModels.load(model).tokenizer
        for testCase in oracle.tokenize {
            let ids = tokenizer.encode(testCase.text, addSpecial: testCase.add_special, parseSpecial: testCase.parse_special)
            #expect(ids == testCase.ids, "\(model): \(testCase.text.debugDescription)")
        }
    }

    /// Without BOS/EOS and special parsing, decoding the ids gives the text back for these models.
    @Test(arguments: TestModels.ids)
    func decodeRoundTrip(model: String) throws {
        let oracle = try TestModels.oracle(model)
        let tokenizer = try TestModels.load(model).tokenizer
        for testCase in oracle.tokenize {
            let plain = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: false)
            #expect(tokenizer.decode(plain, renderSpecial: false) == testCase.text, "\(model): \(testCase.text.debugDescription)")
            let special = tokenizer.encode(testCase.text, addSpecial: false, parseSpecial: true)
            #expect(tokenizer.decode(special, renderSpecial: true) == testCase.text, "\(model): \(testCase.text.debugDescription)")
        }
    }
}
