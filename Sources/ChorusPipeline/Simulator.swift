/// Discrete-event simulation of a schedule: each rank runs its program in order on a compute lane and, with
/// overlap on, a communication lane; an action starts once its lane is free and its inputs are complete.
///
/// Sends are eager: a send occupies its sender's lane for `pp` and never waits for the receiver. With overlap off
/// every communication action sits on the compute lane and blocks it, a recv from its place in the program until
/// the transfer has arrived. With overlap on, sends and EP dispatch/combine run in program order on the
/// communication lane, and a recv is posted ahead (like `irecv`): it holds no lane and completes when its
/// transfer arrives, so only the compute that needs the data waits for it.
public struct Simulator: Sendable {
    /// Costs of each action.
    public var costs: CostModel
    /// Whether communication runs on its own lane.
    public var overlap: Bool
    /// Per rank, a factor on its compute costs (stages of unequal cost, as measured in a real run);
    /// nil means every rank costs `costs`.
    public var rankComputeScale: [Double]?

    /// Creates a simulator.
    public init(costs: CostModel = .standard, overlap: Bool) {
        self.costs = costs
        self.overlap = overlap
    }

    /// Runs `schedule` to completion; throws on a deadlock or an action whose input no rank produces.
    public func run(_ schedule: Schedule) throws -> Timeline {
        let scale = schedule.layout.chunkCostScale(ranks: schedule.ranks)
        let deps = Dependencies(schedule)

        // Flatten: ids in rank-major program order.
        var actions: [Action] = []
        var rankOf: [Int] = []
        var firstId: [Int] = []
        for (r, program) in schedule.actions.enumerated() {
            firstId.append(actions.count)
            actions += program
            rankOf += Array(repeating: r, count: program.count)
        }
        var idOf: [Slot: Int] = [:]
        idOf.reserveCapacity(actions.count)
        for (id, a) in actions.enumerated() {
            guard idOf.updateValue(id, forKey: a.slot) == nil else {
                throw PipelineError.invalidSchedule(["duplicate: \(a) appears twice"])
            }
        }
        var dependsOn: [[Int]] = []
        var sendOf: [Int] = Array(repeating: -1, count: actions.count)
        dependsOn.reserveCapacity(actions.count)
        for (id, a) in actions.enumerated() {
            if let s = deps.matchingSend(a.slot) {
                guard let sid = idOf[s] else { throw PipelineError.invalidSchedule(["unmatched recv: \(a) on rank \(rankOf[id]) has no send"]) }
                sendOf[id] = sid
                dependsOn.append([])
                continue
            }
            dependsOn.append(try deps.of(a.slot).map { s in
                guard let d = idOf[s] else {
                    throw PipelineError.invalidSchedule(["missing input: \(a) on rank \(rankOf[id]) needs \(s.code) of micro-batch \(s.microbatch) stage \(s.stage), which no rank runs"])
                }
                return d
            })
        }

        // Lanes.
        struct LaneState { var ids: [Int] = []; var head = 0; var running = -1 }
        var lanes: [LaneState] = []
        var laneOf = Array(repeating: 0, count: actions.count)
        var laneKind: [Lane] = []
        for (r, program) in schedule.actions.enumerated() {
            var compute = LaneState(), comm = LaneState()
            for i in program.indices {
                let id = firstId[r] + i
                if overlap, case .recv = actions[id].op {
                    laneOf[id] = -1  // posted ahead; started by its send
                } else if overlap && !actions[id].op.isCompute {
                    comm.ids.append(id)
                } else {
                    compute.ids.append(id)
                }
            }
            for id in compute.ids { laneOf[id] = lanes.count }
            lanes.append(compute); laneKind.append(.compute)
            for id in comm.ids { laneOf[id] = lanes.count }
            lanes.append(comm); laneKind.append(.communication)
        }

        var start = Array(repeating: -1.0, count: actions.count)
        var end = Array(repeating: -1.0, count: actions.count)
        var done = Array(repeating: false, count: actions.count)
        var waiters: [Int: [Int]] = [:]       // id -> lanes whose head waits for it
        var recvAwaitingSend: [Int: Int] = [:] // send id -> recv id posted before the send began
        for id in actions.indices where sendOf[id] >= 0 && laneOf[id] < 0 { recvAwaitingSend[sendOf[id]] = id }
        var events = EventQueue()

        func tryStart(_ l: Int, at now: Double) {
            guard lanes[l].running < 0, lanes[l].head < lanes[l].ids.count else { return }
            let id = lanes[l].ids[lanes[l].head]
            for d in dependsOn[id] where !done[d] {
                waiters[d, default: []].append(l)
                return
            }
            start[id] = now
            lanes[l].running = id
            lanes[l].head += 1
            let sid = sendOf[id]
            if sid >= 0 {
                if start[sid] >= 0 {
                    events.push(time: max(now, start[sid] + costs.duration(of: actions[sid].op, scale: scale)), id: id)
                } else {
                    recvAwaitingSend[sid] = id
                }
                return
            }
            let rankScale = actions[id].op.isCompute ? rankComputeScale?[rankOf[id]] ?? 1 : 1
            let finish = now + costs.duration(of: actions[id].op, scale: scale * rankScale)
            events.push(time: finish, id: id)
            if let rid = recvAwaitingSend.removeValue(forKey: id) {
                if laneOf[rid] < 0 { start[rid] = now }
                events.push(time: finish, id: rid)
            }
        }

        for l in lanes.indices { tryStart(l, at: 0) }
        var makespan = 0.0
        while let (time, id) = events.pop() {
            end[id] = time
            done[id] = true
            makespan = max(makespan, time)
            let l = laneOf[id]
            if l >= 0 {
                lanes[l].running = -1
                tryStart(l, at: time)
            }
            if let blocked = waiters.removeValue(forKey: id) {
                for w in blocked { tryStart(w, at: time) }
            }
        }

        if let unfinished = done.firstIndex(of: false) {
            var stuck: [String] = []
            for l in lanes.indices where lanes[l].head < lanes[l].ids.count || lanes[l].running >= 0 {
                let id = lanes[l].running >= 0 ? lanes[l].running : lanes[l].ids[lanes[l].head]
                stuck.append("rank \(rankOf[id]) \(laneKind[l].rawValue) lane waits at \(actions[id])")
                if stuck.count == 4 { break }
            }
            throw PipelineError.deadlock(stuck.isEmpty ? "\(actions[unfinished]) never ran" : stuck.joined(separator: "; "))
        }

        var programs: [[TimedAction]] = []
        for (r, program) in schedule.actions.enumerated() {
            programs.append(program.indices.map { i in
                let id = firstId[r] + i
                let sid = sendOf[id]
                // A recv is active while its transfer is in flight; snap float noise so instant ones are instant.
                var active = sid >= 0 ? min(max(start[id], start[sid]), end[id]) : start[id]
                if end[id] - active < 1e-9 { active = end[id] }
                let lane = laneOf[id] >= 0 ? laneKind[laneOf[id]] : .communication
                return TimedAction(action: actions[id], lane: lane, start: start[id], end: end[id], activeStart: active)
            })
        }
        return Timeline(schedule: schedule, costs: costs, overlap: overlap, programs: programs, makespan: makespan)
    }
}

/// Binary min-heap of completion events ordered by time, then by insertion, so runs are deterministic.
private struct EventQueue {
    private var heap: [(time: Double, seq: Int, id: Int)] = []
    private var seq = 0

    mutating func push(time: Double, id: Int) {
        heap.append((time, seq, id))
        seq += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Double, Int)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < heap.count, less(heap[l], heap[smallest]) { smallest = l }
                if r < heap.count, less(heap[r], heap[smallest]) { smallest = r }
                if smallest == i { break }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        return (top.time, top.id)
    }

    private func less(_ a: (time: Double, seq: Int, id: Int), _ b: (time: Double, seq: Int, id: Int)) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }
}
