import Chorus
@testable import ChorusServer
import ChorusTestSupport
import Foundation
import Testing

/// The scheduler's output for a sequence must not depend on what else runs: the same greedy (or
/// seeded) job gives the same tokens alone and among others joining at different steps.
@Suite struct SchedulerTests {
    func collect(_ stream: AsyncStream<SequenceEvent>) async -> (ids: [Int], text: String, reason: FinishReason?) {
        var ids: [Int] = []
        var text = ""
        var reason: FinishReason?
        for await event in stream {
            switch event {
            case .token(let id, let piece, _):
                ids.append(id)
                text += piece
            case .finished(let r, _, _, let trailing):
                reason = r
                text += trailing
            }
        }
        return (ids, text, reason)
    }

    /// The job's tokens from the plain single-sequence generator on a fresh cache: the reference.
    func alone(_ job: SequenceJob, _ model: LanguageModel) throws -> [Int] {
        try Generator(model: model).generate(promptIDs: job.promptIDs, cache: model.makeCache(), maxTokens: job.maxTokens,
                                             sampling: job.sampling).ids
    }

    /// A counter from the /metrics text (0 when absent).
    func counter(_ metrics: ServerMetrics, _ name: String) -> Int {
        metrics.render().split(separator: "\n").first { $0.hasPrefix(name + " ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    }

    @Test func sequencesAreIdenticalAloneAndBatched() async throws {
        let model = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 128, maxBatch: 16)
        let scheduler = try BatchScheduler(model: model, slots: 4, queueCapacity: 8, stepRows: 16)
        scheduler.start()
        defer { scheduler.stopAll() }
        // Two pairs share a beginning (prefix sharing copies or reuses their cached keys and values).
        let prompts = ["The capital of France is", "def fibonacci(n):", "Once upon a time, in a land far away,",
                       "1, 2, 3, 4,", "The capital of France is a city where", "Once upon a time, in a land far away, a dragon"]
        var seeded = SamplingParameters()
        seeded.seed = 42
        let jobs = prompts.enumerated().map { i, prompt in
            SequenceJob(promptIDs: model.tokenize(prompt), maxTokens: 12, sampling: i % 2 == 0 ? .greedy : seeded)
        }
        // References: the plain single-sequence generator, each on a fresh cache.
        let alone = try jobs.map { try self.alone($0, model) }
        // One after another through the scheduler (later ones reuse the free caches' prefixes).
        for (i, job) in jobs.enumerated() {
            #expect(await collect(try scheduler.submit([job])[0]).ids == alone[i], "job \(i) alone differs from the generator")
        }
        // All six at once on four slots: two wait in the queue and join as others finish.
        let streams = try scheduler.submit(jobs)
        for (i, stream) in streams.enumerated() {
            let result = await collect(stream)
            #expect(result.ids == alone[i], "job \(i) differs when batched")
            #expect(result.reason == .length)
            #expect(result.ids.count == 12)
        }
    }

    @Test func fullQueueIsRefusedAndStopStringsCut() async throws {
        let model = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 64, maxBatch: 8)
        let scheduler = try BatchScheduler(model: model, slots: 1, queueCapacity: 0, stepRows: 8)
        let job = SequenceJob(promptIDs: model.tokenize("1, 2, 3, 4,"), maxTokens: 20, sampling: .greedy)
        scheduler.start()
        defer { scheduler.stopAll() }
        let reference = await collect(try scheduler.submit([job])[0])
        let streams = try scheduler.submit([job])
        #expect(throws: SchedulerError.self) { try scheduler.submit([job]) }
        _ = await collect(streams[0])
        // A stop string inside the reference text ends the sequence right before it.
        let words = reference.text.split(separator: " ")
        try #require(words.count > 3)
        let stop = String(words[2])
        var stopping = job
        stopping.stops = [stop]
        let cut = await collect(try scheduler.submit([stopping])[0])
        #expect(cut.reason == .stop)
        #expect(cut.text == String(reference.text[..<reference.text.range(of: stop)!.lowerBound]))
    }

    /// Runs `prompts` greedily through a scheduler speculating with `speculation`; expects plain
    /// greedy's tokens for each and returns the drafted and accepted totals from /metrics.
    func speculativeRun(_ model: LanguageModel, _ prompts: [String], maxTokens: Int,
                        _ speculation: Speculation) async throws -> (drafted: Int, accepted: Int) {
        let metrics = ServerMetrics()
        let scheduler = try BatchScheduler(model: model, slots: prompts.count, queueCapacity: prompts.count, stepRows: 32,
                                           speculation: speculation, observer: metrics)
        scheduler.start()
        defer { scheduler.stopAll() }
        let jobs = prompts.map { SequenceJob(promptIDs: model.tokenize($0), maxTokens: maxTokens, sampling: .greedy) }
        let plain = try jobs.map { try self.alone($0, model) }
        let streams = try scheduler.submit(jobs)
        for (i, stream) in streams.enumerated() {
            #expect(await collect(stream).ids == plain[i], "job \(i) differs from plain greedy under speculation")
        }
        return (counter(metrics, "chorus_speculative_drafted_tokens_total"),
                counter(metrics, "chorus_speculative_accepted_tokens_total"))
    }

    /// Draft-model speculation in the batch: each speculating sequence drafts with its own draft
    /// cache; tokens equal plain greedy decoding. The draft is the target itself restricted to 2000
    /// ids, so most drafts are accepted and some are not (both paths run).
    @Test func draftModelSpeculationGivesPlainGreedyTokens() async throws {
        let model = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 256, maxBatch: 32)
        let draft = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 256, maxBatch: 32)
        let (drafted, accepted) = try await speculativeRun(
            model, ["The history of the printing press", "def fibonacci(n):", "Once upon a time, in a small village,"],
            maxTokens: 24, .draftModel(draft, name: "smollm2-135m", target: model, shape: .chain(3), vocabulary: 2000, maxSequences: 3,
                                       sampled: false))
        #expect(accepted > 0 && accepted < drafted, "drafted \(drafted), accepted \(accepted)")
    }

    @Test func promptLookupSpeculationGivesPlainGreedyTokens() async throws {
        let model = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 256, maxBatch: 32)
        // Repetitive prompts, where prompt lookup drafts often and is often right.
        let (_, accepted) = try await speculativeRun(
            model, ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3,",
                    "let a = x.a; let b = x.b; let c = x.c; let d = x.d; let e"],
            maxTokens: 40, .ngram(shape: .chain(4), maxSequences: 2, sampled: false))
        #expect(accepted > 0, "prompt lookup accepted nothing")
    }

    @Test func sequencesWaitForAndCopyASharedPromptBeingRead() async throws {
        let model = try LanguageModel.load(try TestModels.path("smollm2-135m"), threads: 2, context: 128, maxBatch: 8)
        // Rows of 8 per step: the 40-token prompt takes several steps, so the others wait and copy it.
        let metrics = ServerMetrics()
        let scheduler = try BatchScheduler(model: model, slots: 3, queueCapacity: 3, stepRows: 8, observer: metrics)
        scheduler.start()
        defer { scheduler.stopAll() }
        let system = "You are a careful assistant. Answer briefly and precisely, in plain English, without lists. "
        let prompts = [system + "What is a cat?", system + "What is a cat?", system + "Name a colour."]
        var seeded = SamplingParameters()
        seeded.seed = 7
        let jobs = prompts.enumerated().map { i, prompt in
            SequenceJob(promptIDs: model.tokenize(prompt), maxTokens: 8, sampling: i == 1 ? seeded : .greedy)
        }
        #expect(jobs[0].promptIDs.count > 16)
        let plain = try jobs.map { try self.alone($0, model) }
        let streams = try scheduler.submit(jobs)
        for (i, stream) in streams.enumerated() {
            #expect(await collect(stream).ids == plain[i], "job \(i) differs after copying a shared prompt")
        }
        #expect(counter(metrics, "chorus_prompt_tokens_reused_total") >= 2 * 16, "the shared prompt was not copied")
    }
}
