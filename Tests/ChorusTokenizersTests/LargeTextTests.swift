import ChorusTokenizers
import Foundation
import Testing

/// The 35 KB perplexity text: tokenization is lossless and fast enough (timing printed; a release build
/// takes a few milliseconds per model, the generous bound only catches pathological slowness in debug).
@Suite struct LargeTextTests {
    static func text() throws -> String {
        try String(contentsOf: TestModels.fixturesDirectory.appendingPathComponent("oracle/texts/gpl-3.txt"), encoding: .utf8)
    }

    @Test(arguments: TestModels.ids)
    func tokenizesThePerplexityText(model: String) throws {
        let text = try Self.text()
        let tokenizer = try TestModels.load(model).tokenizer
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = clock.measure { ids = tokenizer.encode(text, addSpecial: true, parseSpecial: false) }
        print("\(model): \(text.utf8.count) bytes -> \(ids.count) tokens in \(elapsed)")
        #expect(elapsed < .seconds(10))
        let body = tokenizer.addsBOS ? Array(ids.dropFirst()) : ids
        #expect(tokenizer.decode(body, renderSpecial: false) == text)
        #expect(ids.count > text.utf8.count / 8 && ids.count < text.utf8.count / 2)
    }
}
