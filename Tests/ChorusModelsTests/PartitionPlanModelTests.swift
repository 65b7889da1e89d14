import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// Any partition plan computes the same bits: who owns a row never changes how it is computed.
@Test func everyPlanGivesTheSameLogits() throws {
    let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
    let model = try Transformer(file: file, pool: ThreadPool(threads: 2), contextCapacity: 64, maxBatch: 8)
    let prompt = [504, 3575, 282, 4649, 314, 7042, 30]
    func logits(_ model: Transformer) throws -> [[Float]] {
        let cache = model.makeCache(capacity: 64)
        let out = try model.forward(.sequence(prompt, start: 0, logits: .all), cache: cache)
        var rows = (0..<prompt.count).map { Array(out.row($0)) }
        // and one decode step
        rows.append(Array(try model.forward(.sequence([198], start: prompt.count), cache: cache).row(0)))
        return rows
    }
    let reference = try logits(model)
    let units = model.context.plan.units
    for shares in [[0.8, 0.2], [0.1, 0.9], [1.0, 0.0], [0.0, 1.0]] {
        for op in OperatorClass.allCases {
            let planned = try model.with { $0.plan = PartitionPlan(units: units, shares: [op: shares]) }
            #expect(try logits(planned) == reference, "plan \(op) \(shares) changed the logits")
        }
    }
    let skewed = try model.with { $0.plan = PartitionPlan(units: units, shares: [.linear: [0.8, 0.2], .attention: [0.3, 0.7], .rowwise: [0, 1]]) }
    #expect(try logits(skewed) == reference)
}
