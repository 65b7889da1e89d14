import Foundation
import Testing
@testable import ChorusPipeline

private let shapes = [(1, 1), (1, 3), (2, 2), (2, 4), (2, 7), (3, 3), (3, 9), (4, 4), (4, 8), (4, 12), (5, 10), (8, 16)]

@Test func everyGeneratedScheduleIsSound() throws {
    for (p, m) in shapes {
        for paired in [false, true] {
            var requests = [ScheduleKind.gpipe, .oneFOneB, .zeroBubbleH1].map {
                ScheduleRequest(kind: $0, ranks: p, microbatches: m, pairForOverlap: paired)
            }
            if m % p == 0 {
                for v in [2, 3] { requests.append(ScheduleRequest(kind: .interleaved, ranks: p, microbatches: m, virtualStages: v, pairForOverlap: paired)) }
            }
            if p % 2 == 0, m % 2 == 0, m >= 2 * p { requests.append(ScheduleRequest(kind: .dualPipe, ranks: p, microbatches: m)) }
            for request in requests {
                let schedule = try Schedule.generate(request)
                let problems = Validator.problems(in: schedule)
                #expect(problems.isEmpty, "\(request): \(problems.prefix(3))")
                let timeline = try Simulator(costs: .standard, overlap: paired).run(schedule)
                #expect(Validator.problems(in: timeline).isEmpty, "\(request)")
            }
        }
    }
}

@Test func peakActivationsFollowEachSchedulesRule() throws {
    func peaks(_ kind: ScheduleKind, _ p: Int, _ m: Int, v: Int? = nil, paired: Bool = false) throws -> [Int] {
        try Schedule.generate(ScheduleRequest(kind: kind, ranks: p, microbatches: m, virtualStages: v, pairForOverlap: paired)).peakActivations
    }
    #expect(try peaks(.gpipe, 4, 8) == [8, 8, 8, 8])
    #expect(try peaks(.oneFOneB, 4, 8) == [4, 3, 2, 1])
    #expect(try peaks(.oneFOneB, 4, 2) == [2, 2, 2, 1])
    #expect(try peaks(.zeroBubbleH1, 4, 8) == [4, 3, 2, 1])
    #expect(try peaks(.oneFOneB, 4, 16, paired: true) == [8, 6, 4, 2])
    // Megatron: warm-up (P-r-1)*2 + (V-1)*P, plus the one in flight.
    #expect(try peaks(.interleaved, 4, 8, v: 2) == [11, 9, 7, 5])
    #expect(try peaks(.interleaved, 4, 16, v: 2, paired: true) == [12, 10, 8, 6])
    #expect(try peaks(.dualPipe, 4, 8) == [5, 5, 5, 5])
}

@Test func everyChunkIsComputedOnceOnItsRank() throws {
    let schedule = try Schedule.generate(ScheduleRequest(kind: .interleaved, ranks: 4, microbatches: 8, virtualStages: 2))
    for (r, program) in schedule.actions.enumerated() {
        let forwards = program.filter { $0.op == .forward(.mlp) }
        #expect(forwards.count == 8 * 2)
        #expect(forwards.allSatisfy { schedule.rank(microbatch: $0.microbatch, stage: $0.stage) == r })
    }
    let dual = try Schedule.generate(ScheduleRequest(kind: .dualPipe, ranks: 4, microbatches: 8))
    // Rank 0 runs stage 0 of the downward micro-batches 0..<4 and stage 3 of the upward ones 4..<8.
    let stagesOnRank0 = Set(dual.actions[0].filter { $0.op == .forward(.attention) }.map { "\($0.microbatch)@\($0.stage)" })
    #expect(stagesOnRank0 == Set((0..<4).map { "\($0)@0" } + (4..<8).map { "\($0)@3" }))
    let zb = try Schedule.generate(ScheduleRequest(kind: .zeroBubbleH1, ranks: 4, microbatches: 8))
    #expect(zb.actions[3].suffix(3).allSatisfy { $0.op == .weight }, "the last rank defers P-1 W's to the end")
}

@Test func shapeRulesGiveClearErrors() throws {
    func message(_ request: ScheduleRequest) -> String {
        do {
            _ = try Schedule.generate(request)
            return ""
        } catch {
            return "\(error)"
        }
    }
    #expect(message(ScheduleRequest(kind: .interleaved, ranks: 4, microbatches: 6)).contains("divisible"))
    #expect(message(ScheduleRequest(kind: .interleaved, ranks: 4, microbatches: 8, virtualStages: 1)).contains("at least 2"))
    #expect(message(ScheduleRequest(kind: .dualPipe, ranks: 3, microbatches: 12)).contains("even number of stages"))
    #expect(message(ScheduleRequest(kind: .dualPipe, ranks: 4, microbatches: 7)).contains("even number of micro-batches"))
    #expect(message(ScheduleRequest(kind: .dualPipe, ranks: 4, microbatches: 6)).contains("at least 2*P"))
    #expect(message(ScheduleRequest(kind: .oneFOneB, ranks: 4, microbatches: 8, virtualStages: 2)).contains("only to the interleaved"))
    #expect(message(ScheduleRequest(kind: .gpipe, ranks: 0, microbatches: 8)).contains("--stages"))
    #expect(message(ScheduleRequest(kind: .gpipe, ranks: 2, microbatches: 0)).contains("--microbatches"))
}

@Test func schedulesRoundTripThroughJSON() throws {
    for kind in ScheduleKind.allCases {
        let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: 2, microbatches: 4, pairForOverlap: true))
        let data = try JSONEncoder().encode(schedule)
        #expect(try JSONDecoder().decode(Schedule.self, from: data) == schedule)
    }
}
