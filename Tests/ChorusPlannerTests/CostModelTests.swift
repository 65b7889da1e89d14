import ChorusPlanner
import ChorusRuntime
import ChorusSpeculative
import Foundation
import Testing

@Suite struct CostModelTests {
    @Test func rooflineIsMemoryBoundAtWidthOneAndComputeBoundWide() {
        let profile = SyntheticMachine.profile()
        let cost = SyntheticMachine.target()
        // 1.2 GB at 20 GB/s = 60 ms; compute at width 1 on 2 units of 8 GB/s = 75 ms: compute wins.
        let sync = 200 * 2e-6
        #expect(abs(cost.roofline(width: 1, profile: profile) - (1.2e9 / 16e9 + sync)) < 1e-9)
        // Width 4: compute 4x dearer per byte.
        #expect(abs(cost.roofline(width: 4, profile: profile) - (4 * 1.2e9 / 16e9 + sync)) < 1e-9)
        // Fewer logit rows: the head at 1 row.
        let partial = cost.roofline(width: 4, logitRows: 1, profile: profile)
        #expect(abs(partial - (4 * 1e9 / 16e9 + 0.2e9 / 16e9 + sync)) < 1e-9)
        // A fast compute machine is memory bound.
        let fast = SyntheticMachine.profile(rate: { _ in 1e12 })
        #expect(abs(cost.roofline(width: 2, profile: fast) - (1.2e9 / 20e9 + sync)) < 1e-9)
    }

    @Test func fitRecoversConstantAndScales() {
        // Memory bound at width 1, compute bound from width 2 on.
        let profile = SyntheticMachine.profile(rate: { 32e9 / Double($0) })
        var cost = SyntheticMachine.target()
        let m = 1.0, s = pow(10, 4.0 / 18)  // on the fit's grid
        let truth = { (w: Int) -> Double in
            let memory = 1.2e9 / 20e9, compute = Double(w) * 1.2e9 / 64e9
            return 0.004 + max(m * memory, s * compute) + 200 * 2e-6
        }
        cost.measured = [1, 2, 3, 4, 8, 16].map { ForwardCost.Sample(width: $0, seconds: truth($0)) }
        cost.fit(profile: profile)
        #expect(abs(cost.fitConstant - 0.004) < 1e-6 && abs(cost.fitScale - s) < 1e-9 && abs(cost.fitMemoryScale - m) < 1e-9,
                "a \(cost.fitConstant) s \(cost.fitScale) m \(cost.fitMemoryScale)")
        #expect(cost.fitErrors(profile: profile).allSatisfy { abs($0.error) < 1e-6 })
        // Unmeasured widths come from the model, measured ones are taken as measured, fractions interpolate.
        #expect(abs(cost.seconds(width: 6, profile: profile) - truth(6)) < 1e-9)
        #expect(abs(cost.seconds(width: 2.5, profile: profile) - (truth(2) + truth(3)) / 2) < 1e-9)
        // One logit row of four: the head drops from compute bound (4 rows) to memory bound (1 row).
        let saved = cost.seconds(width: 4, profile: profile) - cost.seconds(width: 4, logitRows: 1, profile: profile)
        #expect(abs(saved - (s * 4 * 0.2e9 / 64e9 - m * 0.2e9 / 20e9)) < 1e-9)
    }

    @Test func fasterUnitGetsItsShareOfRows() {
        // A unit four times faster than the other gets about 80% of the rows of every operator.
        let units = (0..<2).map { PartitionPlan.Unit(id: $0, kind: $0 == 0 ? .gpu : .cpuCoreGroup, name: "u\($0)") }
        let plan = PartitionPlanner.plan(units: units, speeds: [UnitSpeed(linear: 4, attention: 4, rowwise: 4),
                                                                UnitSpeed(linear: 1, attention: 1, rowwise: 1)])
        for op in OperatorClass.allCases {
            let rows = plan.rows(of: 8960, part: 0, op: op, grain: 16).count
            #expect(abs(Double(rows) / 8960 - 0.8) < 0.01, "\(op): \(rows)")
        }
        // That split is the fastest: every other split leaves one unit waiting.
        let best = PartitionPlanner.operatorSeconds(work: 1, shares: [0.8, 0.2], speeds: [4, 1], synchronisation: 0)
        for first in stride(from: 0.0, through: 1.0, by: 0.05) where abs(first - 0.8) > 1e-9 {
            #expect(PartitionPlanner.operatorSeconds(work: 1, shares: [first, 1 - first], speeds: [4, 1], synchronisation: 0) > best)
        }
        // From a profile: a unit with four times the contended bandwidth.
        var profile = SyntheticMachine.profile()
        profile.units[0].readBandwidthContended = 4 * profile.units[1].readBandwidthContended
        #expect(PartitionPlanner.plan(for: profile).shares[.linear] == [0.8, 0.2])
        // Alike units split evenly.
        #expect(PartitionPlanner.plan(for: SyntheticMachine.profile()).shares[.linear] == [0.5, 0.5])
    }

    /// A drafter whose every candidate is accepted with probability p at rank 1.
    func drafter(_ p: Double, cost: ForwardCost?, secondsPerDraft: Double = 0) -> Planner.DrafterInput {
        // 1000 start positions whose accepted chains follow a geometric law with parameter p.
        var paths: [[Int]] = []
        for i in 0..<1000 {
            var path: [Int] = []
            var u = Double(i) + 0.5
            for _ in 0..<8 {
                u = (u * 7.31).truncatingRemainder(dividingBy: 1000)
                if u / 1000 < p { path.append(1) } else { path.append(0); break }
            }
            paths.append(path)
        }
        return .init(acceptance: AcceptanceProfile(drafter: cost == nil ? .ngram : .model("draft"), maxRank: 4, maxDepth: 8,
                                                   paths: paths, secondsPerDraft: secondsPerDraft), cost: cost)
    }

    /// Verification costs (seconds) per width, as measured.
    func target(_ t: (Int) -> Double) -> ForwardCost {
        ForwardCost(model: "t", matrices: [], regions: 0, measured: (1...16).map { .init(width: $0, seconds: t($0)) })
    }

    @Test func plainWinsWhenDraftingIsTooDear() {
        let profile = SyntheticMachine.profile()
        let target = target { 0.030 + 0.02 * Double($0 - 1) }
        // Drafting costs as much as a target step: nothing pays.
        let dear = Planner(profile: profile, target: target, drafters: [drafter(0.7, cost: target)])
        #expect(dear.candidates().first?.drafter == DrafterChoice.none)
        // Free drafting with good acceptance and cheap width: speculation wins, with a chain-like tree.
        let cheapTarget = self.target { 0.030 + 0.001 * Double($0 - 1) }
        let free = Planner(profile: profile, target: cheapTarget, drafters: [drafter(0.8, cost: nil, secondsPerDraft: 1e-5)])
        let best = free.candidates().first!
        #expect(best.drafter == .ngram)
        #expect(best.predictedTokensPerSecond > free.plain.predictedTokensPerSecond * 2)
        // Useless drafter (never right): plain wins even when drafting is free.
        let useless = Planner(profile: profile, target: cheapTarget, drafters: [drafter(0, cost: nil)])
        #expect(useless.candidates().first?.drafter == DrafterChoice.none)
    }

    @Test func predictionMatchesHandComputation() throws {
        let profile = SyntheticMachine.profile()
        let target = target { 0.030 + 0.010 * Double($0 - 1) }
        let draftCost = self.target { 0.005 * Double($0) }
        let planner = Planner(profile: profile, target: target, drafters: [drafter(0.5, cost: draftCost)])
        let chain2 = planner.candidate(planner.drafters[0], shape: try TreeShape.chain(2), origin: "chain")
        let accepted = planner.drafters[0].acceptance.expectedAccepted(.full([1, 1]))
        // Verify 3 rows; draft: catch-up of accepted + 1 rows, then one chain row.
        let expectedDraft = 0.005 * (accepted + 1) + 0.005
        #expect(abs(chain2.draftSeconds - expectedDraft) < 1e-9)
        #expect(abs(chain2.predictedTokensPerSecond - (accepted + 1) / (0.050 + expectedDraft)) < 1e-9)
        #expect(Planner.draftForwards(.full([1, 1, 1])).map(\.rows) == [1, 1])
        #expect(Planner.draftForwards(.full([2, 1, 1])).map(\.rows) == [2, 4])
        #expect(Planner.draftForwards(.full([1, 2, 1])).map(\.rows) == [1, 2])
    }
}
