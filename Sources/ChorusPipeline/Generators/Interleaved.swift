/// Megatron's interleaved 1F1B: each rank holds V model chunks, so a micro-batch visits every rank V times and
/// the warm-up bubble shrinks by V, at the cost of V times more pipeline transfers.
enum Interleaved {
    static func make(ranks p: Int, microbatches m: Int, virtualStages v: Int, paired: Bool) throws -> Schedule {
        guard v >= 2 else {
            throw PipelineError.invalidShape("interleaved needs --virtual of at least 2 (got \(v)); use 1f1b for one chunk per rank")
        }
        guard m % p == 0 else {
            throw PipelineError.invalidShape("interleaved needs --microbatches divisible by --stages (got M=\(m), P=\(p)): micro-batches advance in groups of P")
        }
        let layout = Layout.interleaved(virtualStages: v)
        let emit = ChunkEmitter(ranks: p, microbatches: m, layout: layout)
        let total = m * v
        // Megatron's order: the k-th forward on a rank is micro-batch (k / (P*V)) * P + k % P on chunk (k / P) % V;
        // backwards walk the chunks in reverse.
        func microbatch(_ k: Int) -> Int { (k / (p * v)) * p + k % p }
        func forwardStage(_ k: Int, rank r: Int) -> Int { ((k / p) % v) * p + r }
        func backwardStage(_ k: Int, rank r: Int) -> Int { (v - 1 - (k / p) % v) * p + r }

        var programs: [[Action]] = []
        var bound: [Int] = []
        for r in 0..<p {
            let warmup = m == p ? total : min((p - r - 1) * 2 + (v - 1) * p + (paired ? 1 : 0), total)
            var program: [Action] = []
            for k in 0..<warmup { program += emit.forward(microbatch(k), forwardStage(k, rank: r)) }
            for k in 0..<(total - warmup) {
                let f = (microbatch(k + warmup), forwardStage(k + warmup, rank: r))
                let b = (microbatch(k), backwardStage(k, rank: r))
                if paired {
                    program += emit.pair(forward: f, backward: b, withWeight: true)
                } else {
                    program += emit.forward(f.0, f.1)
                    program += emit.backward(b.0, b.1, withWeight: true)
                }
            }
            for k in (total - warmup)..<total { program += emit.backward(microbatch(k), backwardStage(k, rank: r), withWeight: true) }
            programs.append(program)
            bound.append(min(warmup + 1, total))
        }
        return Schedule(kind: .interleaved, ranks: p, microbatches: m, layout: layout, paired: paired,
                        actions: programs, activationBound: bound)
    }
}
