/// ZB-H1 (Qi et al. 2023, "Zero Bubble Pipeline Parallelism"): 1F1B's order and memory, with the backward split
/// into B (input gradient, on the critical path) and W (weight gradient). Rank r runs its first r backwards as
/// B only and defers their W's to the end, where they fill the cool-down bubble: bubble (P-1)(F+B-W) instead of
/// 1F1B's (P-1)(F+B+W).
enum ZeroBubbleH1 {
    static func make(ranks p: Int, microbatches m: Int) -> Schedule {
        let emit = ChunkEmitter(ranks: p, microbatches: m, layout: .linear)
        var programs: [[Action]] = []
        var bound: [Int] = []
        for r in 0..<p {
            let warmup = min(p - 1 - r, m)
            let deferred = min(r, m - warmup)  // steady steps that run F and B but leave W for later
            var program: [Action] = []
            var nextForward = 0, nextBackward = 0, nextWeight = 0
            func forward() { program += emit.forward(nextForward, r); nextForward += 1 }
            func backward() { program += emit.backward(nextBackward, r, withWeight: false); nextBackward += 1 }
            func weight() { program += emit.weight(nextWeight, r); nextWeight += 1 }
            for _ in 0..<warmup { forward() }
            for _ in 0..<deferred { forward(); backward() }
            while nextForward < m { forward(); backward(); weight() }
            while nextBackward < m { backward(); weight() }
            while nextWeight < m { weight() }
            programs.append(program)
            bound.append(min(warmup + 1, m))
        }
        return Schedule(kind: .zeroBubbleH1, ranks: p, microbatches: m, layout: .linear, paired: false,
                        actions: programs, activationBound: bound)
    }
}
