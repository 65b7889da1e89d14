import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// Passes run block by block in separate workspaces, stepped alternately (how a distributed
/// executor interleaves two micro-batches), give every row the bits of a plain forward pass.
@Suite struct BlockSteppingTests {
    static let prompts = [[504, 3575, 282, 4649, 314, 7042, 30, 198, 198, 504], [1, 22, 333, 4444, 55, 6, 777]]

    func model() throws -> Transformer {
        try Transformer(file: GGUFFile(path: try TestModels.path("smollm2-135m")), pool: ThreadPool(threads: 2),
                        contextCapacity: 64, maxBatch: 16)
    }

    func rows(_ logits: Logits) -> [[Float]] { (0..<logits.rows).map { Array(logits.row($0)) } }

    /// Where two sets of logit rows first differ in any bit (nil: identical), in one short line.
    func difference(_ a: [[Float]], _ b: [[Float]]) -> String? {
        guard a.count == b.count else { return "\(a.count) rows against \(b.count)" }
        for (r, (x, y)) in zip(a, b).enumerated() {
            if let i = x.indices.first(where: { x[$0].bitPattern != y[$0].bitPattern }) {
                return "row \(r), id \(i): \(x[i]) against \(y[i])"
            }
        }
        return nil
    }

    /// Two sequences, each in its own workspace, stepped one block at a time in turn.
    @Test func twoSequencesSteppedInTurn() throws {
        let m = try model()
        let alone = try Self.prompts.map { try rows(m.forward(.sequence($0, start: 0, logits: .all), cache: m.makeCache(capacity: 64))) }
        let workspaces = [m.makeWorkspace(), m.makeWorkspace()]
        let passes = try Self.prompts.indices.map { i in
            try m.startPass([Segment(.sequence(Self.prompts[i], start: 0, logits: .all), cache: m.makeCache(capacity: 64))],
                            in: workspaces[i])
        }
        #expect(passes[0].stepCount == 2 * m.config.layerCount)
        while passes.contains(where: { $0.completedSteps < $0.stepCount }) {
            for pass in passes { pass.step() }
        }
        for i in passes.indices {
            #expect(difference(rows(passes[i].finish()), alone[i]) == nil, "sequence \(i) stepped in turn differs")
        }
    }

    /// Two micro-batches of one prompt, the second one block behind the first (its rows attend to the
    /// first's keys and values, written one block earlier), equal the prompt run in one pass.
    @Test func microBatchesOfOneSequenceInterleaved() throws {
        let m = try model()
        let prompt = Self.prompts[0]
        let batch = Batch.sequence(prompt, start: 0, logits: .all)
        let whole = try rows(m.forward(batch, cache: m.makeCache(capacity: 64)))
        let cache = m.makeCache(capacity: 64)
        let first = try m.startPass([Segment(batch, cache: cache, rows: 0..<4)], in: m.makeWorkspace())
        let second = try m.startPass([Segment(batch, cache: cache, rows: 4..<prompt.count)], in: m.makeWorkspace())
        first.step()
        while second.completedSteps < second.stepCount {
            first.step()
            second.step()
        }
        let got = rows(first.finish()) + rows(second.finish())
        #expect(difference(got, whole) == nil, "interleaved micro-batches differ from one pass")
        #expect(cache.count == prompt.count)
    }
}
