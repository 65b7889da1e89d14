/// 1F1B (PipeDream-flush, Megatron's non-interleaved schedule): P-1-r warm-up forwards on rank r, then
/// alternate one forward with one backward, then drain the backwards; at most P-r activations in flight.
enum OneFOneB {
    /// With `paired`, each steady-state forward is interleaved part by part with a backward ("combined 1F1B").
    /// A pair's forward output and backward gradient both leave near its end while its backward needs the
    /// gradient near its start, so neighbouring ranks must be two steps apart, not one: warm-up becomes
    /// 2(P-1-r)+1 (as in interleaved 1F1B) and rank r holds up to 2(P-r) activations.
    static func make(ranks p: Int, microbatches m: Int, paired: Bool) -> Schedule {
        let emit = ChunkEmitter(ranks: p, microbatches: m, layout: .linear)
        var programs: [[Action]] = []
        var bound: [Int] = []
        for r in 0..<p {
            let warmup = min(paired ? 2 * (p - 1 - r) + 1 : p - 1 - r, m)
            var program: [Action] = []
            for i in 0..<warmup { program += emit.forward(i, r) }
            for i in 0..<(m - warmup) {
                if paired {
                    program += emit.pair(forward: (i + warmup, r), backward: (i, r), withWeight: true)
                } else {
                    program += emit.forward(i + warmup, r)
                    program += emit.backward(i, r, withWeight: true)
                }
            }
            for i in (m - warmup)..<m { program += emit.backward(i, r, withWeight: true) }
            programs.append(program)
            bound.append(min(warmup + 1, m))
        }
        return Schedule(kind: .oneFOneB, ranks: p, microbatches: m, layout: .linear, paired: paired,
                        actions: programs, activationBound: bound)
    }
}
