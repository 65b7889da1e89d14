import Testing
@testable import ChorusPipeline

private func sound(_ kind: ScheduleKind, p: Int = 4, m: Int = 8) throws -> Schedule {
    let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: p, microbatches: m))
    #expect(Validator.problems(in: schedule).isEmpty)
    return schedule
}

private func index(of op: Op, mb: Int, stage: Int, in program: [Action]) -> Int {
    program.firstIndex(of: Action(op, microbatch: mb, stage: stage))!
}

@Test func catchesAReorderedLocalDependency() throws {
    var schedule = try sound(.oneFOneB)
    var program = schedule.actions[1]
    let mlp = index(of: .forward(.mlp), mb: 2, stage: 1, in: program)
    let attention = index(of: .forward(.attention), mb: 2, stage: 1, in: program)
    program.swapAt(mlp, attention)
    schedule.actions[1] = program
    let problems = Validator.problems(in: schedule)
    #expect(problems.contains { $0.contains("dependency out of order on rank 1") && $0.contains("F.mlp mb2@1") })
    #expect(throws: PipelineError.self) { try Validator.validate(schedule) }
}

@Test func catchesABackwardBeforeItsRecv() throws {
    var schedule = try sound(.gpipe)
    var program = schedule.actions[2]
    let recv = index(of: .recv(.gradient, peer: 3), mb: 5, stage: 2, in: program)
    let action = program.remove(at: recv)
    program.append(action)
    schedule.actions[2] = program
    #expect(Validator.problems(in: schedule).contains { $0.contains("needs recv.grad<3 mb5@2") })
}

@Test func catchesACrossRankDeadlock() throws {
    // Rank 1 runs micro-batch 1 before micro-batch 0 while rank 0 needs micro-batch 0's gradient before it
    // sends micro-batch 1: every rank's program is locally fine, together they wait forever.
    let emit = ChunkEmitter(ranks: 2, microbatches: 2, layout: .linear)
    let rank0 = emit.forward(0, 0) + emit.backward(0, 0, withWeight: true) + emit.forward(1, 0) + emit.backward(1, 0, withWeight: true)
    let rank1 = emit.forward(1, 1) + emit.backward(1, 1, withWeight: true) + emit.forward(0, 1) + emit.backward(0, 1, withWeight: true)
    let schedule = Schedule(kind: .oneFOneB, ranks: 2, microbatches: 2, layout: .linear, paired: false,
                            actions: [rank0, rank1], activationBound: [2, 2])
    let problems = Validator.problems(in: schedule)
    #expect(problems.count == 1)
    #expect(problems.first?.hasPrefix("deadlock: rank 0 waits at recv.grad<1 mb0@0") == true, "\(problems)")
    #expect(throws: PipelineError.self) { try Simulator(overlap: false).run(schedule) }
}

@Test func catchesAnUnmatchedSend() throws {
    var schedule = try sound(.oneFOneB)
    schedule.actions[2].removeAll { $0 == Action(.recv(.activation, peer: 1), microbatch: 3, stage: 2) }
    let problems = Validator.problems(in: schedule)
    #expect(problems.contains("unmatched send: rank 1 sends the activation of micro-batch 3 stage 1 but rank 2 never receives it"), "\(problems)")

    var misdirected = try sound(.oneFOneB)
    let i = index(of: .send(.activation, peer: 2), mb: 0, stage: 1, in: misdirected.actions[1])
    misdirected.actions[1][i] = Action(.send(.activation, peer: 3), microbatch: 0, stage: 1)
    #expect(Validator.problems(in: misdirected).contains { $0.hasPrefix("unmatched send: send.act>3 mb0@1 on rank 1 targets rank 3") })
}

@Test func catchesAnUnmatchedRecv() throws {
    var schedule = try sound(.zeroBubbleH1)
    schedule.actions[3].removeAll { $0 == Action(.send(.gradient, peer: 2), microbatch: 6, stage: 3) }
    #expect(Validator.problems(in: schedule).contains { $0.hasPrefix("unmatched recv: rank 2 waits for the gradient of micro-batch 6 stage 3") })
}

@Test func catchesMissingDuplicateAndMisplacedWork() throws {
    var missingW = try sound(.zeroBubbleH1)
    missingW.actions[0].removeAll { $0 == Action(.weight, microbatch: 4, stage: 0) }
    #expect(Validator.problems(in: missingW).contains { $0.hasPrefix("missing: W of micro-batch 4 stage 0") })

    var duplicate = try sound(.gpipe)
    duplicate.actions[0].append(Action(.forward(.attention), microbatch: 0, stage: 0))
    #expect(Validator.problems(in: duplicate).contains { $0.hasPrefix("duplicate: F.attn mb0@0") })

    var misplaced = try sound(.gpipe)
    let moved = misplaced.actions[0].removeLast()
    misplaced.actions[1].append(moved)
    let problems = Validator.problems(in: misplaced)
    #expect(problems.contains { $0.contains("is on rank 1 but stage 0 of micro-batch 7 runs on rank 0") })
    #expect(problems.contains { $0.hasPrefix("missing: B.attn of micro-batch 7 stage 0 on rank 0") })
}

@Test func catchesActivationsOverTheBound() throws {
    var schedule = try sound(.oneFOneB)
    // Run rank 0 GPipe-style: all forwards first. Still deadlock-free, but it holds all 8 activations.
    let emit = ChunkEmitter(ranks: 4, microbatches: 8, layout: .linear)
    schedule.actions[0] = (0..<8).flatMap { emit.forward($0, 0) } + (0..<8).flatMap { emit.backward($0, 0, withWeight: true) }
    #expect(Validator.problems(in: schedule) == ["rank 0 holds 8 activations in flight, over the schedule's bound of 4"])
}

@Test func catchesATimelineThatRunsTwoComputeActionsAtOnce() throws {
    let schedule = try sound(.oneFOneB, p: 2, m: 2)
    var timeline = try Simulator(overlap: true).run(schedule)
    #expect(Validator.problems(in: timeline).isEmpty)
    let i = timeline.programs[0].firstIndex { $0.action.op == .forward(.mlp) }!
    timeline.programs[0][i].start -= 0.75
    timeline.programs[0][i].activeStart -= 0.75
    let problems = Validator.problems(in: timeline)
    #expect(problems.contains("rank 0 runs F.attn mb0@0 and F.mlp mb0@0 at once"), "\(problems)")
    #expect(problems.contains { $0.contains("F.mlp mb0@0 starts at") })
}
