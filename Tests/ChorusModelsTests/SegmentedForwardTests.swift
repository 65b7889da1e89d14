import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// Several sequences in one forward pass (continuous batching) must give each sequence the same bits
/// as running it alone: greedy tokens and every step's logits.
@Suite struct SegmentedForwardTests {
    let prompts: [[Int]] = [
        [504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504],
        [1, 22, 333, 4444, 55, 6, 777],
        [9000, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
    ]
    let steps = 8

    func model() throws -> Transformer {
        try Transformer(file: GGUFFile(path: try TestModels.path("smollm2-135m")), pool: ThreadPool(threads: 2),
                        contextCapacity: 64, maxBatch: 32)
    }

    func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return best
    }

    /// Greedy tokens and per-step logits of one prompt decoded alone with the single-sequence forward.
    func alone(_ m: Transformer, _ prompt: [Int]) throws -> (tokens: [Int], logits: [[Float]]) {
        let cache = m.makeCache(capacity: 64)
        var logits = try m.forward(.sequence(prompt, start: 0), cache: cache)
        var tokens: [Int] = []
        var rows: [[Float]] = []
        for _ in 0..<steps {
            rows.append(Array(logits.row(0)))
            let next = argmax(logits.row(0))
            tokens.append(next)
            logits = try m.forward(.sequence([next], start: cache.count), cache: cache)
        }
        return (tokens, rows)
    }

    @Test func eachSequenceMatchesItselfAloneWhenBatchedWithOthers() throws {
        let m = try model()
        let references = try prompts.map { try alone(m, $0) }

        // All three run together; the third joins two steps late and its prompt arrives in chunks of 5
        // (chunked prefill alongside the others' decoding steps).
        let caches = prompts.map { _ in m.makeCache(capacity: 64) }
        var prefilled = [0, 0, 0]
        var next: [Int?] = [nil, nil, nil]
        var tokens: [[Int]] = [[], [], []]
        var logits: [[[Float]]] = [[], [], []]
        var step = 0
        while tokens.contains(where: { $0.count < steps }) {
            var segments: [Segment] = []
            var members: [Int] = []
            for i in prompts.indices where tokens[i].count < steps {
                if i == 2 && step < 2 { continue }
                if let token = next[i] {
                    segments.append(Segment(.sequence([token], start: caches[i].count), cache: caches[i]))
                    members.append(i)
                } else {
                    let chunk = i == 2 ? 5 : prompts[i].count
                    let end = min(prompts[i].count, prefilled[i] + chunk)
                    let rows = Array(prompts[i][prefilled[i]..<end])
                    let last = end == prompts[i].count
                    segments.append(Segment(.sequence(rows, start: prefilled[i], logits: last ? .last : .none), cache: caches[i]))
                    prefilled[i] = end
                    if last { members.append(i) }
                }
            }
            let out = try m.forward(segments: segments)
            #expect(out.rows == members.count)
            for (k, i) in members.enumerated() {
                logits[i].append(Array(out.row(k)))
                let token = argmax(out.row(k))
                tokens[i].append(token)
                next[i] = token
            }
            step += 1
        }
        for i in prompts.indices {
            #expect(tokens[i] == references[i].tokens, "sequence \(i): batched tokens differ from alone")
            #expect(logits[i] == references[i].logits, "sequence \(i): batched logits differ from alone")
        }
    }

    @Test func refusesSharedCachesAndOversizedPasses() throws {
        let m = try model()
        let cache = m.makeCache(capacity: 64)
        #expect(throws: ModelError.self) {
            try m.forward(segments: [Segment(.sequence([1], start: 0), cache: cache), Segment(.sequence([2], start: 0), cache: cache)])
        }
        #expect(throws: ModelError.self) {
            try m.forward(segments: [Segment(.sequence(Array(repeating: 1, count: 33), start: 0), cache: cache)])
        }
    }
}
