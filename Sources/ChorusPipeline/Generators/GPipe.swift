/// GPipe: every rank runs all M forwards, then all M backwards; simplest, and holds all M activations.
enum GPipe {
    static func make(ranks p: Int, microbatches m: Int) -> Schedule {
        let emit = ChunkEmitter(ranks: p, microbatches: m, layout: .linear)
        var programs: [[Action]] = []
        for r in 0..<p {
            var program: [Action] = []
            for i in 0..<m { program += emit.forward(i, r) }
            for i in 0..<m { program += emit.backward(i, r, withWeight: true) }
            programs.append(program)
        }
        return Schedule(kind: .gpipe, ranks: p, microbatches: m, layout: .linear, paired: false,
                        actions: programs, activationBound: Array(repeating: m, count: p))
    }
}
