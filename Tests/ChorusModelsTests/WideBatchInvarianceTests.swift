import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// The multi-row tiles (groups of up to 8 activation rows) on a model with K-quant and 32-block
/// weights (gemma3-270m: Q4_K, Q6_K, Q5_0, Q8_0): every row of a 17-row prefill, computed in groups
/// of 8, 8 and 1, has the bits of the same token decoded alone, with 2 threads against 1.
@Suite struct WideBatchInvarianceTests {
    @Test func seventeenRowPrefillEqualsTokenByToken() throws {
        let path = try TestModels.path("gemma3-270m")
        let prompt = [2, 9259, 236764, 1401, 563, 496, 1594, 529, 2165, 236761, 108, 1018, 531, 3590, 625, 6260, 236881]
        let wide = try Transformer(file: GGUFFile(path: path), pool: ThreadPool(threads: 2), contextCapacity: 64, maxBatch: 32)
        let cache = wide.makeCache(capacity: 64)
        let all = try wide.forward(.sequence(prompt, start: 0, logits: .all), cache: cache)
        let batched = (0..<prompt.count).map { Array(all.row($0)) }
        let single = try Transformer(file: GGUFFile(path: path), pool: ThreadPool(threads: 1), contextCapacity: 64, maxBatch: 1)
        let singleCache = single.makeCache(capacity: 64)
        for (i, token) in prompt.enumerated() {
            let logits = try single.forward(.sequence([token], start: i), cache: singleCache)
            #expect(Array(logits.row(0)) == batched[i], "row \(i) of the 17-row prefill differs from the token decoded alone")
        }
    }
}
