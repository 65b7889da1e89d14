/// The half of a transformer chunk a compute action covers, so EP all-to-alls can sit between the halves.
public enum Part: String, Hashable, Codable, Sendable, CaseIterable {
    /// Attention (and the router): runs before dispatch in the forward pass, after it in the backward pass.
    case attention
    /// The experts' MLP: runs between dispatch and combine.
    case mlp
}

/// Which pass an expert-parallel all-to-all belongs to, since backward runs the pair in reverse order.
public enum Pass: String, Hashable, Codable, Sendable {
    /// Part of the forward pass.
    case forward
    /// Part of the backward pass (the all-to-all carries gradients).
    case backward
}

/// What a pipeline point-to-point transfer carries: activations flow down the route, gradients back up.
public enum Tensor: String, Hashable, Codable, Sendable {
    /// A chunk's output, sent to the next stage.
    case activation
    /// The gradient of a chunk's input, sent back to the previous stage.
    case gradient
}

/// One operation in a rank's program; the vocabulary later execution and traces share.
public enum Op: Hashable, Codable, Sendable {
    /// Forward compute of one part of a chunk.
    case forward(Part)
    /// Backward compute of one part: the input gradient, plus the weight gradient when `withWeight` (no separate W).
    case backward(Part, withWeight: Bool)
    /// Deferred weight-gradient compute of a whole chunk (zero-bubble style W).
    case weight
    /// Expert-parallel all-to-all that sends tokens to their experts (forward) or returns expert input gradients (backward).
    case dispatch(Pass)
    /// Expert-parallel all-to-all that returns expert outputs (forward) or sends output gradients to experts (backward).
    case combine(Pass)
    /// Pipeline send of a chunk's output activation (to the next stage) or input gradient (to the previous stage).
    case send(Tensor, peer: Int)
    /// Pipeline receive matching a `send` on `peer`.
    case recv(Tensor, peer: Int)

    /// True for actions that occupy the compute lane (F, B, W).
    public var isCompute: Bool {
        switch self {
        case .forward, .backward, .weight: true
        default: false
        }
    }

    /// True for pipeline send/recv.
    public var isPipelineCommunication: Bool {
        switch self {
        case .send, .recv: true
        default: false
        }
    }

    /// True for a pipeline recv.
    public var isReceive: Bool {
        if case .recv = self { true } else { false }
    }

    /// True for expert-parallel dispatch/combine.
    public var isExpertCommunication: Bool {
        switch self {
        case .dispatch, .combine: true
        default: false
        }
    }

    /// Short human name, e.g. `F.attn`, `B.mlp`, `W`, `dispatch.F`, `send.act>2`.
    public var name: String {
        switch self {
        case .forward(let p): "F.\(p.short)"
        case .backward(let p, let w): "B\(w ? "W" : "").\(p.short)"
        case .weight: "W"
        case .dispatch(let pass): "dispatch.\(pass == .forward ? "F" : "B")"
        case .combine(let pass): "combine.\(pass == .forward ? "F" : "B")"
        case .send(let t, let peer): "send.\(t == .activation ? "act" : "grad")>\(peer)"
        case .recv(let t, let peer): "recv.\(t == .activation ? "act" : "grad")<\(peer)"
        }
    }
}

extension Part {
    var short: String { self == .attention ? "attn" : "mlp" }
}

/// One entry of a rank's ordered program: an operation on one micro-batch at one stage of its route.
public struct Action: Hashable, Codable, Sendable, CustomStringConvertible {
    /// What to do.
    public var op: Op
    /// Which micro-batch, 0-based.
    public var microbatch: Int
    /// Position along the micro-batch's route (the virtual stage), 0-based; the rank is fixed by the schedule's layout.
    public var stage: Int

    /// Creates an action; stage is the route position, not the rank.
    public init(_ op: Op, microbatch: Int, stage: Int) {
        self.op = op
        self.microbatch = microbatch
        self.stage = stage
    }

    public var description: String { "\(op.name) mb\(microbatch)@\(stage)" }
}

/// Identity of an action for dependency lookups: the operation without payload (peer, weight flag).
struct Slot: Hashable, Sendable {
    enum Code: UInt8, Sendable {
        case forwardAttention, forwardMLP, backwardAttention, backwardMLP, weight
        case dispatchForward, combineForward, dispatchBackward, combineBackward
        case sendActivation, sendGradient, recvActivation, recvGradient
    }
    var code: Code
    var microbatch: Int
    var stage: Int

    init(_ code: Code, _ microbatch: Int, _ stage: Int) {
        self.code = code
        self.microbatch = microbatch
        self.stage = stage
    }
}

extension Action {
    var slot: Slot {
        let code: Slot.Code
        switch op {
        case .forward(.attention): code = .forwardAttention
        case .forward(.mlp): code = .forwardMLP
        case .backward(.attention, _): code = .backwardAttention
        case .backward(.mlp, _): code = .backwardMLP
        case .weight: code = .weight
        case .dispatch(.forward): code = .dispatchForward
        case .dispatch(.backward): code = .dispatchBackward
        case .combine(.forward): code = .combineForward
        case .combine(.backward): code = .combineBackward
        case .send(.activation, _): code = .sendActivation
        case .send(.gradient, _): code = .sendGradient
        case .recv(.activation, _): code = .recvActivation
        case .recv(.gradient, _): code = .recvGradient
        }
        return Slot(code, microbatch, stage)
    }
}
