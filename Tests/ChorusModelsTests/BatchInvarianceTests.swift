import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// A row's logits must not depend on how many rows are computed with it: prefill of a whole prompt,
/// token-by-token decoding, a different thread count and a token tree all give the same bits.
@Suite struct BatchInvarianceTests {
    let prompt = [504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504]

    func model(threads: Int) throws -> Transformer {
        try Transformer(file: GGUFFile(path: try TestModels.path("smollm2-135m")), pool: ThreadPool(threads: threads),
                        contextCapacity: 64, maxBatch: 4)
    }

    @Test func prefillEqualsTokenByTokenAndAnyThreadCount() throws {
        let two = try model(threads: 2)
        let cache = two.makeCache(capacity: 64)
        // Batch of 10 (chunked into 4+4+2), logits of every row.
        let all = try two.forward(.sequence(prompt, start: 0, logits: .all), cache: cache)
        let batched = (0..<prompt.count).map { Array(all.row($0)) }
        let one = try model(threads: 1)
        let single = one.makeCache(capacity: 64)
        for (i, token) in prompt.enumerated() {
            let logits = try one.forward(.sequence([token], start: i), cache: single)
            #expect(Array(logits.row(0)) == batched[i], "row \(i) differs between batch and single-token decoding")
        }
    }

    @Test func treeRowsEqualTheirChainComputedAlone() throws {
        let m = try model(threads: 2)
        let cache = m.makeCache(capacity: 64)
        _ = try m.forward(.sequence(Array(prompt[0..<6]), start: 0), cache: cache)
        // Tree: root children 7 and 8 (rows 0, 1); row 2 = child of row 0; row 3 = child of row 1.
        let tree = Batch(tokens: [198, 28, 198, 253], positions: [6, 6, 7, 7], firstSlot: 6,
                         visibility: .tree(parents: [-1, -1, 0, 1]), logitRows: [0, 1, 2, 3])
        let logits = try m.forward(tree, cache: cache)
        let treeRows = (0..<4).map { Array(logits.row($0)) }
        for (row, chain) in [(0, [198]), (1, [28]), (2, [198, 198]), (3, [28, 253])] {
            let reference = m.makeCache(capacity: 64)
            _ = try m.forward(.sequence(Array(prompt[0..<6]), start: 0), cache: reference)
            var last: [Float] = []
            for (k, token) in chain.enumerated() {
                last = Array(try m.forward(.sequence([token], start: 6 + k), cache: reference).row(0))
            }
            #expect(treeRows[row] == last, "tree row \(row) differs from its chain decoded alone")
        }
    }
}
