import Chorus
import ChorusModels
import ChorusPlanner
import ChorusRuntime
import ChorusSpeculative
import ChorusTestSupport
import Foundation
import Testing

/// Execution plans and the calibration behind them, on SmolLM2-135M.
@Suite(.serialized) struct PlannedDecodingTests {
    func load(context: Int = 512, pool: ThreadPool = ThreadPool(threads: 2)) throws -> LanguageModel {
        try LanguageModel(path: TestModels.path("smollm2-135m"), pool: pool, context: context, maxBatch: 64)
    }

    /// A Sequoia tree (explicit parents), an n-gram plan and a skewed partition all decode plain greedy's ids.
    @Test func plansDecodeLikePlainGreedy() throws {
        let model = try load()
        let prompt = model.tokenize(SpeculativeGeneratorTests.code)
        let expected = try Generator(model: model).generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 32,
                                                           sampling: .greedy).ids
        let sequoia = try TreeShape(template: TreeTemplate(parents: [-1, 0, 0, 1, 1, 3, 5]))
        let skewed = PartitionPlan(units: model.transformer.context.plan.units, shares: [.linear: [0.8, 0.2], .attention: [0.3, 0.7]])
        let path = try TestModels.path("smollm2-135m")
        let plans = [
            ExecutionPlan(threads: 2, drafter: .model(path), shape: sequoia, partition: skewed),
            ExecutionPlan(threads: 2, drafter: .model(path), shape: sequoia, verificationWidth: 4, partition: .uniform(units: 2)),
            ExecutionPlan(threads: 2, drafter: .ngram, shape: try TreeShape(branching: [2, 1, 1]), partition: skewed),
            ExecutionPlan.plain(threads: 2),
        ]
        for plan in plans {
            let decoder = try PlannedDecoder(plan: plan, model: model)
            let (result, stats) = try decoder.generate(promptIDs: prompt, cache: model.makeCache(), maxTokens: 32)
            let shape = try plan.shape()
            #expect(result.ids == expected, "plan \(plan.drafter) \(String(describing: shape))")
            if plan.drafter != .none { #expect((stats?.accepted ?? 0) > 0) }
            if plan.verificationWidth == 4 { #expect((stats?.drafted ?? 0) <= 3 * (stats?.verifications ?? 0)) }
        }
        // A plan for another unit count is refused with a clear error.
        #expect(throws: EngineError.self) { try PlannedDecoder(plan: .plain(threads: 3), model: model) }
    }

    /// A drafter identical to the target always proposes the target's token first; prompt lookup
    /// finds some of a code continuation; replaying the paths predicts what a real run accepts.
    @Test func calibrationMeasuresAcceptance() throws {
        let model = try load()
        let calibrator = AcceptanceCalibrator(target: model)
        let transcripts = try calibrator.transcripts(prompts: [SpeculativeGeneratorTests.code], tokens: 40)
        #expect(transcripts.count == 1 && transcripts[0].ids.count == 40)
        let same = try calibrator.calibrate(draft: try load(), id: "self", transcripts: transcripts)
        #expect(same.paths.count == 40)
        #expect(same.paths.allSatisfy { $0.allSatisfy { $0 == 1 } }, "self-drafting never misses")
        #expect(same.acceptance(minimumSamples: 1).first?.first == 1)

        let lookup = try calibrator.calibrate(drafter: NGramDrafter(), choice: .ngram, transcripts: transcripts)
        #expect(lookup.paths.count == 40 && lookup.probeTrees?.count == 40)
        let chain = TreeTemplate.full([1, 1, 1, 1])
        let predicted = lookup.expectedAccepted(chain)
        #expect(predicted > 0)
        #expect(lookup.expectedWidth(chain) >= 1 && lookup.expectedWidth(chain) <= 5)
        // A real run visits a subset of the start positions: its accepted length per round is in the same range.
        let (_, stats) = try Generator(model: model).generateSpeculative(
            promptIDs: transcripts[0].promptIDs, cache: model.makeCache(), maxTokens: 40, drafter: NGramDrafter(),
            shape: try TreeShape.chain(4))
        #expect(abs(stats.meanAcceptedLength - predicted) < 1.5, "replayed \(predicted), ran \(stats.meanAcceptedLength)")
    }
}
