/// Expands "forward/backward/weight of micro-batch m at stage k" into part-level actions with their pipeline
/// send/recv, so every generator writes programs in terms of chunks and shares one part order.
struct ChunkEmitter {
    let ranks: Int
    let microbatches: Int
    let layout: Layout

    var routeLength: Int { layout.routeLength(ranks: ranks) }

    func rank(_ m: Int, _ k: Int) -> Int {
        layout.rank(microbatch: m, stage: k, ranks: ranks, microbatches: microbatches)
    }

    /// Receive of the chunk input when the previous stage lives on another rank.
    func recvActivation(_ m: Int, _ k: Int) -> [Action] {
        guard k > 0, rank(m, k - 1) != rank(m, k) else { return [] }
        return [Action(.recv(.activation, peer: rank(m, k - 1)), microbatch: m, stage: k)]
    }

    /// Send of the chunk output when the next stage lives on another rank.
    func sendActivation(_ m: Int, _ k: Int) -> [Action] {
        guard k < routeLength - 1, rank(m, k + 1) != rank(m, k) else { return [] }
        return [Action(.send(.activation, peer: rank(m, k + 1)), microbatch: m, stage: k)]
    }

    /// Receive of the output gradient when the next stage lives on another rank.
    func recvGradient(_ m: Int, _ k: Int) -> [Action] {
        guard k < routeLength - 1, rank(m, k + 1) != rank(m, k) else { return [] }
        return [Action(.recv(.gradient, peer: rank(m, k + 1)), microbatch: m, stage: k)]
    }

    /// Send of the input gradient when the previous stage lives on another rank.
    func sendGradient(_ m: Int, _ k: Int) -> [Action] {
        guard k > 0, rank(m, k - 1) != rank(m, k) else { return [] }
        return [Action(.send(.gradient, peer: rank(m, k - 1)), microbatch: m, stage: k)]
    }

    /// recv, attention, dispatch, MLP, combine, send.
    func forward(_ m: Int, _ k: Int) -> [Action] {
        recvActivation(m, k) + [
            Action(.forward(.attention), microbatch: m, stage: k),
            Action(.dispatch(.forward), microbatch: m, stage: k),
            Action(.forward(.mlp), microbatch: m, stage: k),
            Action(.combine(.forward), microbatch: m, stage: k),
        ] + sendActivation(m, k)
    }

    /// recv, combine-backward, MLP backward, dispatch-backward, attention backward, send.
    func backward(_ m: Int, _ k: Int, withWeight: Bool) -> [Action] {
        recvGradient(m, k) + [
            Action(.combine(.backward), microbatch: m, stage: k),
            Action(.backward(.mlp, withWeight: withWeight), microbatch: m, stage: k),
            Action(.dispatch(.backward), microbatch: m, stage: k),
            Action(.backward(.attention, withWeight: withWeight), microbatch: m, stage: k),
        ] + sendGradient(m, k)
    }

    /// Deferred weight gradient of a chunk.
    func weight(_ m: Int, _ k: Int) -> [Action] {
        [Action(.weight, microbatch: m, stage: k)]
    }

    /// A forward chunk of `f` and a backward chunk of `b` (different micro-batches or stages, independent of each
    /// other), interleaved so that on a separate communication lane each all-to-all runs during the other chunk's
    /// compute: compute F.attn(f) B.mlp(b) F.mlp(f) B.attn(b) while the lane runs
    /// combine.B(b) dispatch.F(f) dispatch.B(b) combine.F(f).
    func pair(forward f: (m: Int, k: Int), backward b: (m: Int, k: Int), withWeight: Bool) -> [Action] {
        recvActivation(f.m, f.k)
            + [Action(.forward(.attention), microbatch: f.m, stage: f.k)]
            + recvGradient(b.m, b.k)
            + [
                Action(.combine(.backward), microbatch: b.m, stage: b.k),
                Action(.dispatch(.forward), microbatch: f.m, stage: f.k),
                Action(.backward(.mlp, withWeight: withWeight), microbatch: b.m, stage: b.k),
                Action(.dispatch(.backward), microbatch: b.m, stage: b.k),
                Action(.forward(.mlp), microbatch: f.m, stage: f.k),
                Action(.combine(.forward), microbatch: f.m, stage: f.k),
            ]
            + sendActivation(f.m, f.k)
            + [Action(.backward(.attention, withWeight: withWeight), microbatch: b.m, stage: b.k)]
            + sendGradient(b.m, b.k)
    }
}
