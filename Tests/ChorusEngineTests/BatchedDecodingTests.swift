import Chorus
import ChorusTestSupport
import Testing

/// The library as a user sees it (`import Chorus`, no server): several sequences decoded together,
/// speculating by prompt lookup or a draft model with chains and trees, give each sequence the
/// tokens it gets alone with plain greedy decoding; seeded sampled sequences the tokens they get alone.
@Suite(.serialized) struct BatchedDecodingTests {
    static let prompts = [
        "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3,",
        "let a = x.a; let b = x.b; let c = x.c; let d = x.d; let e",
        "The history of the printing press",
        "def fibonacci(n):",
    ]

    func load() throws -> LanguageModel {
        try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 256, maxBatch: 32)
    }

    func plainGreedy(_ model: LanguageModel, _ job: SequenceJob) throws -> [Int] {
        try Generator(model: model).generate(promptIDs: job.promptIDs, cache: model.makeCache(), maxTokens: job.maxTokens,
                                             sampling: .greedy).ids
    }

    @Test func batchedSpeculativeDecodingEqualsPlainGreedyPerSequence() throws {
        let model = try load()
        let draft = try load()
        let jobs = Self.prompts.map { SequenceJob(promptIDs: model.tokenize($0), maxTokens: 24) }
        let plain = try jobs.map { try plainGreedy(model, $0) }
        let settings: [(String, Speculation)] = [
            ("ngram chain", .ngram(shape: try .chain(4))),
            ("ngram tree", .ngram(shape: try TreeShape(branching: [3, 1, 1]))),
            // The target restricted to 2000 ids drafts for itself: most drafts accepted, some not.
            ("model chain", try .draftModel(draft, name: "self", target: model, shape: .chain(3), vocabulary: 2000)),
            ("model tree", try .draftModel(draft, name: "self", target: model, shape: TreeShape(branching: [2, 2]), vocabulary: 2000)),
        ]
        for (name, speculation) in settings {
            let results = try Generator(model: model).generate(jobs, speculation: speculation)
            for (i, result) in results.enumerated() {
                #expect(result.ids == plain[i], "\(name): sequence \(i) differs from plain greedy decoding alone")
                #expect(result.stopReason == .maxTokens)
            }
            let drafted = results.reduce(0) { $0 + $1.statistics.drafted }
            let accepted = results.reduce(0) { $0 + $1.statistics.accepted }
            let verifications = results.reduce(0) { $0 + $1.statistics.verifications }
            #expect(accepted > 0 && accepted < drafted, "\(name): drafted \(drafted), accepted \(accepted)")
            if name.hasSuffix("tree") && name.hasPrefix("model") {
                // A draft model fills the tree: more drafted rows per verification than a chain of the same depth.
                #expect(drafted > 2 * verifications, "\(name): \(drafted) drafted in \(verifications) verifications is no tree")
            }
        }
    }

    /// Seeded sampling under tree speculation: each sequence's tokens do not depend on its neighbours
    /// (its own random stream, batch-invariant logits), and stop strings and budgets hold per sequence.
    @Test func sampledSequencesAreTheSameAloneAndBatched() throws {
        let model = try load()
        var sampling = SamplingParameters()
        sampling.temperature = 0.9
        let jobs = Self.prompts.enumerated().map { i, prompt -> SequenceJob in
            sampling.seed = UInt64(100 + i)
            return SequenceJob(promptIDs: model.tokenize(prompt), maxTokens: 12 + 4 * i, sampling: sampling)
        }
        let speculation = Speculation.ngram(shape: try TreeShape(branching: [2, 1]))
        let batched = try Generator(model: model).generate(jobs, speculation: speculation)
        for (i, job) in jobs.enumerated() {
            let alone = try Generator(model: model).generate(promptIDs: job.promptIDs, cache: model.makeCache(), maxTokens: job.maxTokens,
                                                              sampling: job.sampling, speculation: speculation)
            #expect(batched[i].ids == alone.ids, "sequence \(i) differs batched")
            #expect(batched[i].ids.count <= job.maxTokens)
        }
    }
}
