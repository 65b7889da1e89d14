/// DualPipe (DeepSeek-V3 technical report, 2024): micro-batches enter from both ends of the pipeline, each rank
/// holds the chunk for its stage in both directions, and in the steady state every rank runs a forward chunk of
/// one direction paired with a backward chunk of the other so each one's communication hides behind the other's
/// compute. Backward is split into B and W near the ends (zero-bubble style) to fill the remaining bubbles.
///
/// The step structure follows the reference implementation (deepseek-ai/DualPipe): for rank r with
/// h = min(r, P-1-r), "phase 0" is the direction in which r is in the first half of the route, "phase 1" the other.
enum DualPipe {
    static func make(ranks p: Int, microbatches m: Int) throws -> Schedule {
        guard p >= 2, p % 2 == 0 else {
            throw PipelineError.invalidShape("dualpipe needs an even number of stages, at least 2 (got P=\(p)): ranks pair up from both ends")
        }
        guard m % 2 == 0, m >= 2 * p else {
            throw PipelineError.invalidShape("dualpipe needs an even number of micro-batches, at least 2*P=\(2 * p) (got M=\(m)): half go each way and each half must fill the pipeline")
        }
        let emit = ChunkEmitter(ranks: p, microbatches: m, layout: .bidirectional)
        let half = p / 2, perDirection = m / 2
        var programs: [[Action]] = []
        for r in 0..<p {
            let h = min(r, p - 1 - r)
            let secondHalf = r >= half
            let middle = r == half - 1 || r == half
            var program: [Action] = []
            var nextForward = [0, 0], nextBackward = [0, 0]
            var pendingWeights: [(m: Int, k: Int)] = []
            var pendingHead = 0

            // Phase -> (micro-batch, stage) of the next forward / backward chunk in that phase.
            func chunk(_ phase: Int, _ index: Int) -> (m: Int, k: Int) {
                let direction = phase ^ (secondHalf ? 1 : 0)
                return direction == 0 ? (index, r) : (perDirection + index, p - 1 - r)
            }
            func takeForward(_ phase: Int) -> (m: Int, k: Int) {
                defer { nextForward[phase] += 1 }
                return chunk(phase, nextForward[phase])
            }
            func takeBackward(_ phase: Int, zeroBubble: Bool) -> (m: Int, k: Int) {
                let c = chunk(phase, nextBackward[phase])
                nextBackward[phase] += 1
                if zeroBubble { pendingWeights.append(c) }
                return c
            }
            func forward(_ phase: Int) {
                let c = takeForward(phase)
                program += emit.forward(c.m, c.k)
            }
            func backward(_ phase: Int, zeroBubble: Bool) {
                let c = takeBackward(phase, zeroBubble: zeroBubble)
                program += emit.backward(c.m, c.k, withWeight: !zeroBubble)
            }
            func weight() {
                let c = pendingWeights[pendingHead]
                pendingHead += 1
                program += emit.weight(c.m, c.k)
            }
            func pair(forward fPhase: Int, backward bPhase: Int) {
                let f = takeForward(fPhase)
                let b = takeBackward(bPhase, zeroBubble: false)
                program += emit.pair(forward: f, backward: b, withWeight: true)
            }

            // 1: warm up the first direction.
            for _ in 0..<((half - h - 1) * 2) { forward(0) }
            // 2: forwards of both directions.
            for _ in 0...h { forward(0); forward(1) }
            // 3: first backwards of the second direction, W right away, next forward.
            for _ in 0..<(half - h - 1) { backward(1, zeroBubble: true); weight(); forward(1) }
            // 4: the main loop, two overlapped F&B pairs per step (the middle ranks' very first pair runs
            //    unoverlapped so its forward reaches the other middle rank sooner).
            for i in 0..<(perDirection - p + h + 1) {
                if i == 0 && middle {
                    forward(0)
                    backward(1, zeroBubble: false)
                } else {
                    pair(forward: 0, backward: 1)
                }
                pair(forward: 1, backward: 0)
            }
            // 5: forwards of the second direction run out.
            for _ in 0..<(half - h - 1) { backward(1, zeroBubble: false); pair(forward: 1, backward: 0) }
            // 6: backwards of both directions; the later half defer W.
            var zeroBubble = false
            for i in 0...h {
                if i == (h + 1) / 2 && h % 2 == 1 { zeroBubble = true }
                backward(1, zeroBubble: zeroBubble)
                if i == (h + 1) / 2 && h % 2 == 0 { zeroBubble = true }
                backward(0, zeroBubble: zeroBubble)
            }
            // 7: W fills the gaps between the last backwards.
            for _ in 0..<(half - h - 1) { weight(); backward(0, zeroBubble: true) }
            // 8: remaining W.
            while pendingHead < pendingWeights.count { weight() }
            programs.append(program)
        }
        return Schedule(kind: .dualPipe, ranks: p, microbatches: m, layout: .bidirectional, paired: true,
                        actions: programs, activationBound: Array(repeating: p + 1, count: p))
    }
}
