import ChorusPlanner
import ChorusRuntime
import ChorusSpeculative
import Foundation
import Testing

@Suite struct ExecutionPlanTests {
    let units = CPUCoreGroup.perWorker(threads: 2).map { PartitionPlan.Unit(id: $0.id, kind: $0.kind, name: $0.name) }

    func roundTrip(_ plan: ExecutionPlan) throws -> ExecutionPlan {
        try JSONDecoder().decode(ExecutionPlan.self, from: plan.jsonData())
    }

    @Test func plansRoundTripThroughJSON() throws {
        let partition = PartitionPlan(units: units, shares: [.linear: [0.7, 0.3], .attention: [0.5, 0.5]])
        let sequoia = try TreeShape(template: TreeTemplate(parents: [-1, 0, 0, 1, 1, 3]))
        let plans = [
            ExecutionPlan.plain(model: "smollm2-135m", threads: 2),
            ExecutionPlan(model: "qwen2.5-coder-1.5b", threads: 2, drafter: .model("qwen2.5-coder-0.5b"),
                          shape: try TreeShape(branching: [3, 2, 1]), partition: partition, predictedTokensPerSecond: 31.5),
            ExecutionPlan(threads: 2, drafter: .ngram, shape: sequoia, verificationWidth: 4, partition: partition),
        ]
        for plan in plans {
            try plan.validate()
            #expect(try roundTrip(plan) == plan)
        }
        let text = String(decoding: try plans[1].jsonData(), as: UTF8.self)
        #expect(text.contains(#""drafter" : "qwen2.5-coder-0.5b""#), "\(text)")
        #expect(text.contains(#""verification_width" : 16"#), "\(text)")
        let sequoiaText = String(decoding: try plans[2].jsonData(), as: UTF8.self)
        #expect(sequoiaText.contains(#""parents""#) && sequoiaText.contains(#""drafter" : "ngram""#))
        #expect(try plans[2].shape()?.template == sequoia.template)
    }

    @Test func handWrittenPlanFillsDefaults() throws {
        let plan = try JSONDecoder().decode(ExecutionPlan.self, from: Data(#"{"threads": 2, "drafter": "ngram", "tree": {"branching": [2, 1]}}"#.utf8))
        try plan.validate()
        #expect(plan.verificationWidth == 5)
        #expect(plan.partition == .uniform(units: 2))
        #expect(try plan.shape() == TreeShape(branching: [2, 1]))
    }

    @Test func corruptPlansAreOneClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-xplan-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ text: String) -> String? {
            let url = dir.appendingPathComponent("plan.json")
            try? Data(text.utf8).write(to: url)
            do {
                _ = try ExecutionPlan.load(path: url.path)
                return nil
            } catch let error as ExecutionPlanError {
                return error.description
            } catch {
                return "unexpected error type: \(error)"
            }
        }
        let cases: [(String, String)] = [
            ("{not json", "malformed JSON"),
            (#"{"drafter": "ngram"}"#, "missing \"threads\""),
            (#"{"threads": 2, "drafter": "ngram"}"#, "needs a \"tree\""),
            (#"{"threads": 2, "drafter": "none", "tree": {"branching": [2]}}"#, "needs a drafter"),
            (#"{"threads": 2, "drafter": "ngram", "tree": {"branching": [2, 0]}}"#, "branching >= 1"),
            (#"{"threads": 2, "drafter": "ngram", "tree": {"parents": [0, 5]}}"#, "earlier node"),
            (#"{"threads": 2, "drafter": "ngram", "tree": {"branching": [2], "parents": [0]}}"#, "exactly one"),
            (#"{"threads": 2, "drafter": "ngram", "tree": {"branching": [2]}, "verification_width": 9}"#, "verification_width"),
            (#"{"threads": 2, "partition": {"units": [{"id": 0, "kind": "cpu", "name": "a"}], "shares": {}}}"#, "partition"),
            (#"{"threads": "two"}"#, "at threads: expected"),
            (#"{"format": "chorus-plan/9", "threads": 2}"#, "format"),
        ]
        for (text, expected) in cases {
            let message = load(text)
            #expect(message?.contains(expected) == true, "\(text) -> \(message ?? "accepted")")
            #expect(message?.contains("\n") == false)
        }
        #expect(load(#"{"threads": 2}"#) == nil)
        #expect(throws: ExecutionPlanError.self) { try ExecutionPlan.load(path: dir.appendingPathComponent("missing.json").path) }
    }

    @Test func profilesRoundTripThroughJSON() throws {
        let profile = SyntheticMachine.profile()
        let decoded = try JSONDecoder().decode(HardwareProfile.self, from: JSONEncoder().encode(profile))
        #expect(decoded.matmul.count == profile.matmul.count && decoded.readBandwidthTotal == profile.readBandwidthTotal)
        var cost = SyntheticMachine.target()
        cost.fit(profile: profile)
        #expect(try JSONDecoder().decode(ForwardCost.self, from: JSONEncoder().encode(cost)) == cost)
        let acceptance = AcceptanceProfile(drafter: .ngram, maxRank: 4, maxDepth: 8, paths: [[1, 2, 0], [1, 1]],
                                           probeTrees: [[-1, 0, 0, 1]], secondsPerDraft: 1e-4)
        #expect(try JSONDecoder().decode(AcceptanceProfile.self, from: JSONEncoder().encode(acceptance)) == acceptance)
    }
}
