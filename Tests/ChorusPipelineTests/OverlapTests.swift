import Testing
@testable import ChorusPipeline

private func makespans(_ kind: ScheduleKind, p: Int, m: Int, v: Int? = nil, costs: CostModel) throws -> (on: SimulationReport, off: SimulationReport) {
    // One schedule, paired for overlap, run under both rules.
    let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: p, microbatches: m, virtualStages: v, pairForOverlap: true))
    try Validator.validate(schedule)
    let on = SimulationReport(try Simulator(costs: costs, overlap: true).run(schedule))
    let off = SimulationReport(try Simulator(costs: costs, overlap: false).run(schedule))
    return (on, off)
}

@Test(arguments: [ScheduleKind.dualPipe, .oneFOneB, .interleaved], [(2, 8), (4, 8), (4, 16), (8, 16)])
func overlapShortensPairedSchedulesWhenExpertCommunicationCosts(kind: ScheduleKind, shape: (Int, Int)) throws {
    let (p, m) = shape
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0.2, expert: 0.5)
    let r = try makespans(kind, p: p, m: m, costs: costs)
    #expect(r.on.makespan < r.off.makespan, "\(kind) P=\(p) M=\(m): on \(r.on.makespan) off \(r.off.makespan)")
    #expect(r.on.exposedComm < r.off.exposedComm)
    #expect(r.on.hiddenComm > 0)
    #expect(r.off.hiddenComm == 0, "with overlap off every transfer blocks compute")
}

@Test func pairedSteadyStateHidesAllExpertCommunication() throws {
    // Long steady state, cheap pipeline transfers: the all-to-alls of each pair run during the other half.
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0, expert: 0.25)
    let r = try makespans(.dualPipe, p: 4, m: 32, costs: costs)
    let perRankCompute = 32.0 * 4
    #expect(r.on.makespan < perRankCompute * 1.2)
    #expect(r.off.makespan > r.on.makespan + 10)
}

@Test func overlapChangesNothingWithoutCommunication() throws {
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0, expert: 0)
    for kind in ScheduleKind.allCases {
        let r = try makespans(kind, p: 4, m: 8, costs: costs)
        #expect(abs(r.on.makespan - r.off.makespan) < 1e-9, "\(kind)")
        #expect(r.on.exposedComm == 0 && r.on.hiddenComm == 0)
    }
}

@Test func pipelineSendsHideBehindTheNextChunkEvenUnpaired() throws {
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0.3, expert: 0)
    let schedule = try Schedule.generate(ScheduleRequest(kind: .gpipe, ranks: 4, microbatches: 8))
    let on = SimulationReport(try Simulator(costs: costs, overlap: true).run(schedule))
    let off = SimulationReport(try Simulator(costs: costs, overlap: false).run(schedule))
    #expect(on.makespan < off.makespan)
    #expect(on.hiddenComm > 0)
}
