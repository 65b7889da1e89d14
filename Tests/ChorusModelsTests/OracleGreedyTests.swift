import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Foundation
import Testing

/// log-softmax of one logits row, in Double.
func logSoftmax(_ row: UnsafeBufferPointer<Float>) -> [Double] {
    let m = Double(row.max()!)
    var sum = 0.0
    for v in row { sum += exp(Double(v) - m) }
    let lse = m + log(sum)
    return row.map { Double($0) - lse }
}

/// Greedy decoding straight from ids (no tokenizer), returning ids and their log-probabilities.
func greedyDecode(_ model: Transformer, prompt: [Int], steps: Int) throws -> (ids: [Int], logprobs: [Double]) {
    let cache = model.makeCache(capacity: 512)
    var logits = try model.forward(.sequence(prompt, start: 0), cache: cache)
    var ids: [Int] = [], logprobs: [Double] = []
    for _ in 0..<steps {
        let lp = logSoftmax(logits.row(0))
        let best = lp.indices.max { lp[$0] < lp[$1] }!
        ids.append(best)
        logprobs.append(lp[best])
        logits = try model.forward(.sequence([best], start: cache.count), cache: cache)
    }
    return (ids, logprobs)
}

@Suite struct OracleGreedyTests {
    @Test(arguments: ["smollm2-135m"])
    func greedyContinuationsMatchLlamaCpp(model id: String) throws {
        let oracle = try Oracle.load(id)
        let file = try GGUFFile(path: try TestModels.path(id))
        let model = try Transformer(file: file, pool: ThreadPool(threads: 2), contextCapacity: 512)
        for greedy in oracle.greedy {
            let run = try greedyDecode(model, prompt: greedy.prompt_ids, steps: 8)
            let failure = Oracle.compareGreedy(greedy, ids: run.ids, logprobs: run.logprobs)
            #expect(failure == nil, "\(id) \(greedy.prompt.debugDescription): \(failure ?? "")")
        }
    }
}
