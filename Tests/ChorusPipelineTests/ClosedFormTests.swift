import Testing
@testable import ChorusPipeline

/// f=1, b=2, w=0 and no communication: the textbook bubble fractions.
let textbookCosts = CostModel(forward: 1, backward: 2, weight: 0, pipeline: 0, expert: 0)

func report(_ kind: ScheduleKind, p: Int, m: Int, v: Int? = nil, costs: CostModel = textbookCosts, overlap: Bool = false) throws -> SimulationReport {
    let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: p, microbatches: m, virtualStages: v, pairForOverlap: overlap))
    try Validator.validate(schedule)
    let timeline = try Simulator(costs: costs, overlap: overlap).run(schedule)
    #expect(Validator.problems(in: timeline).isEmpty)
    return SimulationReport(timeline)
}

@Test(arguments: [(1, 1), (1, 4), (2, 2), (2, 5), (4, 4), (4, 8), (4, 16), (3, 7), (8, 8), (8, 32)])
func gpipeAnd1F1BBubbleIsClosedForm(p: Int, m: Int) throws {
    let expected = Double(p - 1) / Double(m + p - 1)
    for kind in [ScheduleKind.gpipe, .oneFOneB] {
        let r = try report(kind, p: p, m: m)
        #expect(abs(r.bubbleFraction - expected) < 1e-9, "\(kind) P=\(p) M=\(m): \(r.bubbleFraction) vs \(expected)")
        #expect(abs(r.makespan - Double(m + p - 1) * 3) < 1e-9)
    }
}

@Test(arguments: [(2, 2, 2), (2, 4, 2), (4, 4, 2), (4, 8, 2), (4, 8, 3), (4, 16, 4), (3, 6, 2), (8, 16, 2), (1, 3, 2)])
func interleavedBubbleIsClosedForm(p: Int, m: Int, v: Int) throws {
    let expected = Double(p - 1) / Double(v * m + p - 1)
    let r = try report(.interleaved, p: p, m: m, v: v)
    #expect(abs(r.bubbleFraction - expected) < 1e-9, "P=\(p) M=\(m) V=\(v): \(r.bubbleFraction) vs \(expected)")
}

/// ZB-H1's bubble from the paper, (P-1)(F+B-W), with F = B = W: makespan M(F+B+W) + (P-1)(F+B-W).
@Test(arguments: [(2, 4), (4, 8), (4, 12), (6, 12), (8, 16)])
func zeroBubbleH1MatchesPaperBubble(p: Int, m: Int) throws {
    let costs = CostModel(forward: 1, backward: 1, weight: 1, pipeline: 0, expert: 0)
    let r = try report(.zeroBubbleH1, p: p, m: m, costs: costs)
    #expect(abs(r.makespan - Double(3 * m + (p - 1))) < 1e-9, "P=\(p) M=\(m): \(r.makespan)")
    let oneFOneB = try report(.oneFOneB, p: p, m: m, costs: costs)
    #expect(r.makespan < oneFOneB.makespan)
    #expect(r.peakActivations == oneFOneB.peakActivations, "ZB-H1 keeps 1F1B's memory")
}

@Test func pairedSchedulesKeepTheClosedFormsWithoutCommunication() throws {
    let oneFOneB = try report(.oneFOneB, p: 4, m: 16, overlap: true)
    #expect(abs(oneFOneB.bubbleFraction - 3.0 / 19.0) < 1e-9)
    let interleaved = try report(.interleaved, p: 4, m: 16, v: 2, overlap: true)
    #expect(abs(interleaved.bubbleFraction - 3.0 / 35.0) < 1e-9)
}

@Test(arguments: [(2, 4), (2, 8), (4, 8), (4, 16), (8, 16)])
func dualPipeHasLessBubbleThan1F1B(p: Int, m: Int) throws {
    let dual = try report(.dualPipe, p: p, m: m)
    let oneFOneB = try report(.oneFOneB, p: p, m: m)
    #expect(dual.bubbleFraction < oneFOneB.bubbleFraction)
    #expect(dual.peakActivations == Array(repeating: p + 1, count: p), "DualPipe holds P+1 activations per rank")
}

/// One rank, one micro-batch: nothing can overlap, so the makespan is the plain sum of the chain.
@Test func singleChunkMakespanIsTheSumOfItsParts() throws {
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0.2, expert: 0.5)
    for overlap in [false, true] {
        let r = try report(.gpipe, p: 1, m: 1, costs: costs, overlap: overlap)
        #expect(abs(r.makespan - (1 + 3 + 4 * 0.5)) < 1e-9)
        #expect(abs(r.exposedComm - 2) < 1e-9)
    }
}

/// Two ranks, one micro-batch: the forward crosses once, the gradient crosses back once.
@Test func twoRankChainPaysEachTransferOnce() throws {
    let costs = CostModel(forward: 1, backward: 2, weight: 1, pipeline: 0.2, expert: 0.5)
    let r = try report(.gpipe, p: 2, m: 1, costs: costs)
    // per rank: F = 1 + 2 x 0.5, B = 3 + 2 x 0.5; two sends of 0.2 on the critical path.
    #expect(abs(r.makespan - (2 * 2 + 2 * 4 + 2 * 0.2)) < 1e-9)
}
