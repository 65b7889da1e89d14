import ChorusRuntime
import Foundation
import Testing

@Suite struct PartitionPlanTests {
    @Test func uniformPlanSplitsLikeThePool() {
        let plan = PartitionPlan.uniform(units: 2)
        for count in [1, 7, 64, 577, 4864] {
            for grain in [1, 16, 256] {
                for part in 0..<2 {
                    #expect(plan.rows(of: count, part: part, op: .linear, grain: grain)
                            == ThreadPool.share(of: count, part: part, parts: 2, grain: grain))
                }
            }
        }
    }

    @Test func sharesPartitionTheRowsContiguouslyOnGrainBoundaries() {
        let cases: [[Double]] = [[0.8, 0.2], [0.2, 0.8], [1, 0], [0, 1], [3, 1, 1], [1, 2, 3, 4]]
        for shares in cases {
            let plan = PartitionPlan(units: (0..<shares.count).map { .init(id: $0, kind: .cpuCoreGroup, name: "u\($0)") },
                                     shares: [.linear: shares])
            for (count, grain) in [(1000, 16), (4864, 256), (49152, 64), (5, 1)] {
                var next = 0
                for part in 0..<shares.count {
                    let r = plan.rows(of: count, part: part, op: .linear, grain: grain)
                    #expect(r.lowerBound == next, "\(shares) \(count): gap before part \(part)")
                    #expect(r.lowerBound % grain == 0 || r.isEmpty)
                    next = r.upperBound
                }
                #expect(next == count, "\(shares) \(count): rows not covered")
            }
            // About 80% of the rows go to a unit with share 0.8.
            if shares == [0.8, 0.2] {
                let first = plan.rows(of: 4096, part: 0, op: .linear, grain: 16).count
                #expect(abs(Double(first) / 4096 - 0.8) < 0.01)
            }
        }
    }

    @Test func plansRoundTripThroughJSON() throws {
        let plan = PartitionPlan(units: CPUCoreGroup.perWorker(threads: 2).map { .init(id: $0.id, kind: $0.kind, name: $0.name) },
                                 shares: [.linear: [0.7, 0.3], .attention: [0.5, 0.5]])
        let data = try plan.jsonData()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"linear\""), "operator classes are readable keys: \(text)")
        #expect(try JSONDecoder().decode(PartitionPlan.self, from: data) == plan)
    }

    @Test func corruptPlansAreClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-plan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func write(_ text: String) throws -> String {
            let url = dir.appendingPathComponent("p.json")
            try Data(text.utf8).write(to: url)
            return url.path
        }
        #expect(throws: PartitionPlan.PlanError.self) { try PartitionPlan.load(path: try write("{not json")) }
        #expect(throws: PartitionPlan.PlanError.self) { try PartitionPlan.load(path: try write(#"{"units": [], "shares": {}}"#)) }
        let twoUnits = #"[{"id":0,"kind":"cpu","name":"a"},{"id":1,"kind":"cpu","name":"b"}]"#
        #expect(throws: PartitionPlan.PlanError.self) {
            try PartitionPlan.load(path: try write(#"{"units": \#(twoUnits), "shares": {"linear": [1]}}"#))
        }
        #expect(throws: PartitionPlan.PlanError.self) {
            try PartitionPlan.load(path: try write(#"{"units": \#(twoUnits), "shares": {"linear": [-1, 2]}}"#))
        }
        #expect(throws: PartitionPlan.PlanError.self) { try PartitionPlan.load(path: dir.appendingPathComponent("missing.json").path) }
        let ok = try PartitionPlan.load(path: try write(#"{"units": \#(twoUnits), "shares": {"linear": [3, 1]}}"#))
        #expect(ok.shares[.linear] == [3, 1])
        #expect(throws: PartitionPlan.PlanError.self) { try ok.validate(forUnits: 3) }
    }
}
