/// Proves a schedule sound before anyone runs it: every action on the right rank exactly once, sends and
/// recvs paired, dependencies in program order, no deadlock, activations within the promised bound; and checks
/// a simulated timeline keeps one compute action per rank at a time and starts nothing before its inputs.
public enum Validator {
    /// Every rule a schedule breaks, in a stable order; empty when the schedule is sound.
    public static func problems(in schedule: Schedule) -> [String] {
        var problems: [String] = []
        let p = schedule.ranks, m = schedule.microbatches, route = schedule.routeLength
        guard schedule.actions.count == p, schedule.activationBound.count == p else {
            return ["schedule has \(schedule.actions.count) programs and \(schedule.activationBound.count) bounds for \(p) ranks"]
        }
        let deps = Dependencies(schedule)

        // Placement, peers and uniqueness.
        var index: [Slot: (rank: Int, position: Int, action: Action)] = [:]
        for (r, program) in schedule.actions.enumerated() {
            for (i, action) in program.enumerated() {
                guard (0..<m).contains(action.microbatch), (0..<route).contains(action.stage) else {
                    problems.append("\(action) on rank \(r) is outside the schedule's \(m) micro-batches and \(route) stages")
                    continue
                }
                let owner = schedule.rank(microbatch: action.microbatch, stage: action.stage)
                guard owner == r else {
                    problems.append("\(action) is on rank \(r) but stage \(action.stage) of micro-batch \(action.microbatch) runs on rank \(owner)")
                    continue
                }
                switch action.op {
                case .send(let tensor, let peer):
                    let target = tensor == .activation ? action.stage + 1 : action.stage - 1
                    if !(0..<route).contains(target) || schedule.rank(microbatch: action.microbatch, stage: target) == r {
                        problems.append("unmatched send: \(action) on rank \(r) sends where no other rank receives")
                        continue
                    }
                    let expected = schedule.rank(microbatch: action.microbatch, stage: target)
                    if peer != expected {
                        problems.append("unmatched send: \(action) on rank \(r) targets rank \(peer) but stage \(target) runs on rank \(expected)")
                        continue
                    }
                case .recv(let tensor, let peer):
                    let source = tensor == .activation ? action.stage - 1 : action.stage + 1
                    if !(0..<route).contains(source) || schedule.rank(microbatch: action.microbatch, stage: source) == r {
                        problems.append("unmatched recv: \(action) on rank \(r) waits for data no other rank sends")
                        continue
                    }
                    let expected = schedule.rank(microbatch: action.microbatch, stage: source)
                    if peer != expected {
                        problems.append("unmatched recv: \(action) on rank \(r) expects rank \(peer) but stage \(source) runs on rank \(expected)")
                        continue
                    }
                default: break
                }
                if let first = index[action.slot] {
                    problems.append("duplicate: \(action) appears twice on rank \(r) (positions \(first.position) and \(i))")
                } else {
                    index[action.slot] = (r, i, action)
                }
            }
        }

        // Completeness: every chunk's parts, its weight gradient once, and both ends of every transfer.
        for mb in 0..<m {
            for k in 0..<route {
                let r = schedule.rank(microbatch: mb, stage: k)
                let parts: [Slot.Code] = [.forwardAttention, .dispatchForward, .forwardMLP, .combineForward,
                                          .combineBackward, .backwardMLP, .dispatchBackward, .backwardAttention]
                for code in parts where index[Slot(code, mb, k)] == nil {
                    problems.append("missing: \(describe(code)) of micro-batch \(mb) stage \(k) on rank \(r)")
                }
                var weightFlags: Set<Bool> = []
                for code in [Slot.Code.backwardAttention, .backwardMLP] {
                    if case .backward(_, let w)? = index[Slot(code, mb, k)]?.action.op { weightFlags.insert(w) }
                }
                let hasW = index[Slot(.weight, mb, k)] != nil
                if weightFlags.count > 1 {
                    problems.append("micro-batch \(mb) stage \(k): one backward part computes the weight gradient and the other does not")
                } else if weightFlags == [false], !hasW {
                    problems.append("missing: W of micro-batch \(mb) stage \(k) on rank \(r) (its backward skips the weight gradient)")
                } else if weightFlags == [true], hasW {
                    problems.append("extra W of micro-batch \(mb) stage \(k): its backward already computes the weight gradient")
                }
                if k + 1 < route, schedule.rank(microbatch: mb, stage: k + 1) != r {
                    let peer = schedule.rank(microbatch: mb, stage: k + 1)
                    pairCheck(send: Slot(.sendActivation, mb, k), sendRank: r, recv: Slot(.recvActivation, mb, k + 1), recvRank: peer,
                              what: "activation of micro-batch \(mb) stage \(k)", index: index, into: &problems)
                    pairCheck(send: Slot(.sendGradient, mb, k + 1), sendRank: peer, recv: Slot(.recvGradient, mb, k), recvRank: r,
                              what: "gradient of micro-batch \(mb) stage \(k + 1)", index: index, into: &problems)
                }
            }
        }

        // Dependencies in program order on each rank (cross-rank ones go through a recv).
        for (r, program) in schedule.actions.enumerated() {
            for (i, action) in program.enumerated() where index[action.slot]?.rank == r && index[action.slot]?.position == i {
                if deps.matchingSend(action.slot) != nil { continue }
                for dep in deps.of(action.slot) {
                    guard let found = index[dep] else { continue }  // reported as missing above
                    if found.rank == r, found.position > i {
                        problems.append("dependency out of order on rank \(r): \(action) (position \(i)) needs \(found.action) (position \(found.position)) first")
                    }
                }
            }
        }
        guard problems.isEmpty else { return problems }

        if let stuck = deadlock(schedule, index: index, deps: deps) { problems.append(stuck) }

        for (r, (peak, bound)) in zip(schedule.peakActivations, schedule.activationBound).enumerated() where peak > bound {
            problems.append("rank \(r) holds \(peak) activations in flight, over the schedule's bound of \(bound)")
        }
        return problems
    }

    /// Throws `PipelineError.invalidSchedule` listing the problems, if any.
    public static func validate(_ schedule: Schedule) throws {
        let found = problems(in: schedule)
        if !found.isEmpty { throw PipelineError.invalidSchedule(found) }
    }

    /// Rules a simulated timeline breaks: compute overlapping on a rank, a lane running two things at once, or an
    /// action starting before its inputs are ready.
    public static func problems(in timeline: Timeline) -> [String] {
        var problems: [String] = []
        let epsilon = 1e-9
        var end: [Slot: Double] = [:]
        for program in timeline.programs { for t in program { end[t.action.slot] = t.end } }
        let deps = Dependencies(timeline.schedule)
        for (r, program) in timeline.programs.enumerated() {
            let compute = program.filter { $0.action.op.isCompute && $0.end > $0.start }.sorted { $0.start < $1.start }
            for (a, b) in zip(compute, compute.dropFirst()) where b.start < a.end - epsilon {
                problems.append("rank \(r) runs \(a.action) and \(b.action) at once")
            }
            for lane in [Lane.compute, .communication] {
                // With overlap on, recvs are posted ahead and hold no lane: only the rest is exclusive.
                let onLane = program.filter { $0.lane == lane && !(timeline.overlap && $0.action.op.isReceive) }
                for (a, b) in zip(onLane, onLane.dropFirst()) where b.start < a.end - epsilon {
                    problems.append("rank \(r) \(lane.rawValue) lane starts \(b.action) before \(a.action) ends")
                }
            }
            for t in program {
                if let send = deps.matchingSend(t.action.slot) {
                    if let e = end[send], t.end < e - epsilon { problems.append("rank \(r): \(t.action) completes before its send") }
                    continue
                }
                for dep in deps.of(t.action.slot) {
                    if let e = end[dep], t.start < e - epsilon {
                        problems.append("rank \(r): \(t.action) starts at \(formatNumber(t.start)) before its input ends at \(formatNumber(e))")
                    }
                }
            }
        }
        return problems
    }

    private static func pairCheck(send: Slot, sendRank: Int, recv: Slot, recvRank: Int, what: String,
                                  index: [Slot: (rank: Int, position: Int, action: Action)], into problems: inout [String]) {
        switch (index[send] != nil, index[recv] != nil) {
        case (true, false): problems.append("unmatched send: rank \(sendRank) sends the \(what) but rank \(recvRank) never receives it")
        case (false, true): problems.append("unmatched recv: rank \(recvRank) waits for the \(what) but rank \(sendRank) never sends it")
        case (false, false): problems.append("missing: transfer of the \(what) from rank \(sendRank) to rank \(recvRank)")
        case (true, true): break
        }
    }

    /// Runs every rank's program in order on one lane with eager (buffered) sends, timing nothing; returns a
    /// description of the stuck ranks if some never finish. A schedule that completes this way completes with a
    /// separate communication lane too, since splitting lanes only removes ordering constraints.
    private static func deadlock(_ schedule: Schedule, index: [Slot: (rank: Int, position: Int, action: Action)], deps: Dependencies) -> String? {
        var done: Set<Slot> = []
        var head = Array(repeating: 0, count: schedule.ranks)
        var waiting: [Slot: [Int]] = [:]
        var ready = Array(0..<schedule.ranks)
        while let r = ready.popLast() {
            let program = schedule.actions[r]
            advance: while head[r] < program.count {
                let slot = program[head[r]].slot
                let needs = deps.matchingSend(slot).map { [$0] } ?? deps.of(slot)
                for dep in needs where !done.contains(dep) {
                    waiting[dep, default: []].append(r)
                    break advance
                }
                done.insert(slot)
                head[r] += 1
                if let woken = waiting.removeValue(forKey: slot) { ready += woken }
            }
        }
        let stuck = (0..<schedule.ranks).filter { head[$0] < schedule.actions[$0].count }
        guard !stuck.isEmpty else { return nil }
        let heads = stuck.prefix(4).map { r -> String in
            let action = schedule.actions[r][head[r]]
            let needs = deps.matchingSend(action.slot).map { [$0] } ?? deps.of(action.slot)
            let missing = needs.first { !done.contains($0) }
            let on = missing.flatMap { index[$0] }.map { " (held by \($0.action) on rank \($0.rank))" } ?? ""
            return "rank \(r) waits at \(action)\(on)"
        }
        return "deadlock: " + heads.joined(separator: "; ") + (stuck.count > 4 ? "; and \(stuck.count - 4) more ranks" : "")
    }

    private static func describe(_ code: Slot.Code) -> String {
        switch code {
        case .forwardAttention: "F.attn"
        case .forwardMLP: "F.mlp"
        case .backwardAttention: "B.attn"
        case .backwardMLP: "B.mlp"
        case .weight: "W"
        case .dispatchForward: "dispatch.F"
        case .combineForward: "combine.F"
        case .dispatchBackward: "dispatch.B"
        case .combineBackward: "combine.B"
        case .sendActivation: "send.act"
        case .sendGradient: "send.grad"
        case .recvActivation: "recv.act"
        case .recvGradient: "recv.grad"
        }
    }
}
