import Foundation
import Testing
@testable import ChorusPipeline

@Test func parsesCostStrings() throws {
    #expect(try CostModel(parsing: "f=1,b=2,w=1,pp=0.2,ep=0.5") == .standard)
    let c = try CostModel(parsing: " f=2, b=4,w=0 ")
    #expect(c.forward == 2 && c.backward == 4 && c.weight == 0)
    #expect(c.pipeline == 0.2 && c.expert == 0.5, "keys left out keep their defaults")
    #expect(try CostModel(parsing: "attn=0.25,EP=1").attentionShare == 0.25)
    #expect(CostModel.standard.description == "f=1,b=2,w=1,pp=0.2,ep=0.5")
}

@Test(arguments: [
    ("", "empty"), ("f=1,x=2", "unknown key 'x'"), ("f=abc", "not a number"), ("f=-1", "negative"),
    ("f=1,f=2", "given twice"), ("f", "expected key=value"), ("f=1,,b=2", "expected key=value"),
    ("f=0,b=0,w=0", "nothing to schedule"), ("attn=2", "between 0 and 1"), ("pp=inf", "not a number"),
])
func rejectsBadCostStrings(spec: String, reason: String) {
    do {
        _ = try CostModel(parsing: spec)
        Issue.record("'\(spec)' parsed")
    } catch {
        #expect("\(error)".contains(reason), "\(error)")
    }
}

@Test func durationsScaleWithVirtualStagesExceptPipelineSends() {
    let c = CostModel.standard
    #expect(c.duration(of: .forward(.attention), scale: 0.5) == 0.25)
    #expect(c.duration(of: .backward(.mlp, withWeight: true), scale: 1) == 1.5)
    #expect(c.duration(of: .backward(.mlp, withWeight: false), scale: 1) == 1)
    #expect(c.duration(of: .dispatch(.backward), scale: 0.5) == 0.25)
    #expect(c.duration(of: .send(.activation, peer: 1), scale: 0.5) == 0.2)
}

@Test func derivesCostsFromAMeasuredLayer() throws {
    let source = ClosureLayerCostSource(modelName: "tiny", layerCount: 8) { 0.002 }
    let c = try CostModel.measured(from: source, ranks: 4)
    #expect(abs(c.forward - 4) < 1e-12, "2 ms x 8 layers / 4 stages")
    #expect(c.backward == c.forward && c.weight == c.forward, "backward about twice the forward, split evenly")
    #expect(abs(c.pipeline - 0.8) < 1e-12 && abs(c.expert - 2) < 1e-12)
    #expect(throws: PipelineError.self) { try CostModel.measured(from: source, ranks: 16) }
    struct Broken: Error {}
    let failing = ClosureLayerCostSource(modelName: "x", layerCount: 4) { throw Broken() }
    #expect(throws: Broken.self) { try CostModel.measured(from: failing, ranks: 2) }
}

@Test func formatsNumbersWithoutNoise() {
    #expect(formatNumber(44) == "44")
    #expect(formatNumber(0.1 + 0.2) == "0.3")
    #expect(formatNumber(-2.5) == "-2.5")
    #expect(formatNumber(0.416058394, decimals: 6) == "0.416058")
    #expect(formatFixed(3, decimals: 2) == "3.00")
}

@Test func reportJSONHasTheDocumentedKeys() throws {
    let report = try simulate(ScheduleRequest(kind: .oneFOneB, ranks: 4, microbatches: 8), costs: .standard, overlap: false)
    let object = try #require(try JSONSerialization.jsonObject(with: Data(ReportJSON.object(report).utf8)) as? [String: Any])
    #expect(object["schedule"] as? String == "1f1b")
    #expect((object["makespan"] as? Double).map { abs($0 - report.makespan) < 1e-6 } == true)
    #expect(object["bubble_fraction"] is Double)
    #expect(object["peak_activations"] as? [Int] == [4, 3, 2, 1])
    #expect(object["exposed_comm"] is Double)

    let table = ComparisonTable(ranks: 3, microbatches: 5, virtualStages: nil, costs: .standard, overlap: true)
    let all = try #require(try JSONSerialization.jsonObject(with: Data(ReportJSON.comparison(table).utf8)) as? [String: Any])
    let rows = try #require(all["schedules"] as? [[String: Any]])
    #expect(rows.map { $0["schedule"] as? String } == ScheduleKind.allCases.map(\.rawValue))
    #expect((rows[2]["error"] as? String)?.contains("divisible") == true, "interleaved cannot run M=5 on P=3")
    #expect((rows[4]["error"] as? String)?.contains("even") == true)
    #expect(table.markdown.contains("| dualpipe | n/a | n/a | dualpipe needs an even number of stages"))
}
