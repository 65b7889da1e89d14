import ChorusPipeline
import ChorusTraining
import ChorusTrainingTestSupport
import Foundation
import Testing

@Suite struct CheckpointTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-ckpt-\(UUID().uuidString)-\(name)").path
    }

    /// Runs `steps` steps of the tiny model from `start` (parameters, optimiser, data order) and returns the
    /// final state; the micro-batches come from the data order, so resuming needs its state too.
    static func train(_ stack: TinyStack, _ optimizer: inout AdamW, _ order: inout DataOrder, from: Int, to: Int) throws -> [Double] {
        let pool = (0..<7).map { TinyBatch.make(index: $0, rows: 2, width: TinyRun.width, seed: 11) }
        let executor = try PipelineExecutor(schedule: try Schedule.generate(ScheduleRequest(kind: .oneFOneB, ranks: 1, microbatches: 3)),
                                            rank: 0, transport: nil, operations: stack)
        executor.optimizer = optimizer
        let rates = try LearningRateSchedule(peak: 0.05, warmup: 2, total: 10)
        var losses: [Double] = []
        for step in from..<to {
            let batches = order.next(3).map { pool[$0] }
            losses.append(try executor.step(batches, lossScale: 1 / 6, learningRate: rates.learningRate(step: step)).loss)
        }
        optimizer = executor.optimizer!
        return losses
    }

    /// Four steps, a checkpoint, a fresh process state restored from it, six more steps: bit-identical to
    /// ten uninterrupted steps.
    @Test func resumeEqualsUninterrupted() throws {
        func fresh() -> TinyStack { TinyStack(width: TinyRun.width, layers: 4, parts: 1, seed: 5) }
        let whole = fresh()
        var optimizer = AdamW(), order = try DataOrder(count: 7, seed: 3)
        let uninterrupted = try Self.train(whole, &optimizer, &order, from: 0, to: 10)

        let first = fresh()
        var o1 = AdamW(), d1 = try DataOrder(count: 7, seed: 3)
        var losses = try Self.train(first, &o1, &d1, from: 0, to: 4)
        let path = Self.temporary("c.gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TrainingCheckpoint(architecture: "tiny", alpha: 0, parameters: first.parameters(part: 0), optimizer: o1, step: 4, data: d1,
                               settings: "{\"seed\":3}").write(to: path)

        let loaded = try TrainingCheckpoint.load(path: path)
        #expect(loaded.step == 4 && loaded.settings == "{\"seed\":3}" && loaded.data == d1 && loaded.optimizer == o1)
        let second = fresh()
        var o2 = try loaded.restore(into: second.parameters(part: 0)), d2 = loaded.data
        losses += try Self.train(second, &o2, &d2, from: loaded.step, to: 10)
        #expect(losses.map(\.bitPattern) == uninterrupted.map(\.bitPattern), "\(losses) vs \(uninterrupted)")
        for (a, b) in zip(second.parameters(part: 0), whole.parameters(part: 0)) {
            #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern), "\(a.name) differs after resuming")
        }
    }

    /// A write killed part-way leaves the previous checkpoint loadable and unchanged.
    @Test func interruptedWriteKeepsThePreviousCheckpoint() throws {
        let stack = TinyStack(width: 3, layers: 2, parts: 1, seed: 1)
        var optimizer = AdamW()
        for p in stack.parameters(part: 0) { p.gradient = p.values.map { $0 * 0.5 } }
        optimizer.update(stack.parameters(part: 0), learningRate: 0.01)
        let path = Self.temporary("i.gguf")
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: path + ".tmp-\(getpid())") }
        let data = try DataOrder(count: 3, seed: 1)
        let checkpoint = TrainingCheckpoint(architecture: "tiny", alpha: 0, parameters: stack.parameters(part: 0), optimizer: optimizer,
                                            step: 1, data: data, settings: "one")
        try checkpoint.write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        optimizer.update(stack.parameters(part: 0), learningRate: 0.01)
        let later = TrainingCheckpoint(architecture: "tiny", alpha: 0, parameters: stack.parameters(part: 0), optimizer: optimizer,
                                       step: 2, data: data, settings: "two")
        #expect(throws: TrainingError.self) { try later.write(to: path, interruptAfter: 100) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let loaded = try TrainingCheckpoint.load(path: path)
        #expect(loaded.step == 1 && loaded.settings == "one" && loaded.optimizer.step == 1)
        // The next write of the same path goes through despite the stale temporary file.
        try later.write(to: path)
        #expect(try TrainingCheckpoint.load(path: path).step == 2)
        #expect(throws: TrainingError.self) { try later.write(to: "/nonexistent-dir/c.gguf") }
    }
}
