/// The data dependencies between actions, derived from the layout alone; the validator proves programs respect
/// them and the simulator waits on them, so both read the one rule set here.
struct Dependencies {
    let schedule: Schedule
    let last: Int

    init(_ schedule: Schedule) {
        self.schedule = schedule
        self.last = schedule.routeLength - 1
    }

    func sameRank(_ m: Int, _ a: Int, _ b: Int) -> Bool {
        schedule.rank(microbatch: m, stage: a) == schedule.rank(microbatch: m, stage: b)
    }

    /// Slots that must complete before `s` may start. A recv's only dependency is its matching send (on the
    /// peer); every other dependency lives on the action's own rank.
    func of(_ s: Slot) -> [Slot] {
        let m = s.microbatch, k = s.stage
        switch s.code {
        case .forwardAttention:
            if k == 0 { return [] }
            return [sameRank(m, k - 1, k) ? Slot(.combineForward, m, k - 1) : Slot(.recvActivation, m, k)]
        case .dispatchForward: return [Slot(.forwardAttention, m, k)]
        case .forwardMLP: return [Slot(.dispatchForward, m, k)]
        case .combineForward: return [Slot(.forwardMLP, m, k)]
        case .sendActivation: return [Slot(.combineForward, m, k)]
        case .recvActivation: return [Slot(.sendActivation, m, k - 1)]
        case .combineBackward:
            var deps = [Slot(.combineForward, m, k)]
            if k < last { deps.append(sameRank(m, k, k + 1) ? Slot(.backwardAttention, m, k + 1) : Slot(.recvGradient, m, k)) }
            return deps
        case .backwardMLP: return [Slot(.combineBackward, m, k)]
        case .dispatchBackward: return [Slot(.backwardMLP, m, k)]
        case .backwardAttention: return [Slot(.dispatchBackward, m, k)]
        case .sendGradient: return [Slot(.backwardAttention, m, k)]
        case .recvGradient: return [Slot(.sendGradient, m, k + 1)]
        case .weight: return [Slot(.backwardAttention, m, k)]
        }
    }

    /// The send a recv slot pairs with, if the slot is a recv.
    func matchingSend(_ s: Slot) -> Slot? {
        switch s.code {
        case .recvActivation: Slot(.sendActivation, s.microbatch, s.stage - 1)
        case .recvGradient: Slot(.sendGradient, s.microbatch, s.stage + 1)
        default: nil
        }
    }
}
