/// A block of the residual stream, x += block(norm(x)): attention, a dense feed-forward, and
/// whatever an architecture adds (a mixture-of-experts feed-forward is one more conforming type,
/// chosen by the architecture file where the dense one is).
///
/// Contract with the runner (`Pass`):
/// - Before the block's first phase, `workspace.normed` holds its input norm of the residual
///   stream for the pass's rows and `workspace.input` the same rows quantised for its products
///   (the runner computes them fused with the previous block's residual add, `ResidualNorms`).
/// - Its last phase leaves the block's output, before any output norm, in `workspace.projected`.
///   The runner then adds it to the residual stream (after the output norm) fused with the next
///   block's input norm.
/// - Every operator works on row ranges through `pass.run` (the context's pool and partition
///   plan), so a row's bits never depend on the other rows or on who computes them.
/// - A block may split its forward into `phases`, run one at a time (`Pass.step`): a
///   mixture-of-experts block has router, experts and combine phases with its dispatch and combine
///   all-to-alls between them, so a distributed executor can hide one micro-batch's exchange
///   behind another micro-batch's attention (two passes in two workspaces, stepped alternately).
///
/// Training adds, beside each block's forward and in the same file (as llm.c does), a backward in
/// two parts over row ranges threaded like the forward: `backwardInput` (B: the gradient of the
/// block's input from that of its output) and `backwardWeights` (W: gradients of its weights or
/// LoRA adapters, `Linear`), reading what the forward kept in the workspace; the runner steps them
/// in reverse block order, so B and W can be scheduled apart (zero-bubble pipelines).
protocol ResidualBlock: AnyObject, Sendable {
    /// Its input norm and optional output norm.
    var norms: ResidualNorms { get }
    /// Index in the whole model of the layer it belongs to (KV cache layer, tap names).
    var layer: Int { get }
    /// Phases its forward is run in; 1 for a block with no exchange inside it.
    var phases: Int { get }
    /// Runs phase `phase` of the forward over every row of `pass`.
    func forward(phase: Int, _ pass: Pass)
    /// The weight matrices one pass reads, in order (cost model, bytes per token).
    var linears: [Linear] { get }
}

extension ResidualBlock {
    var phases: Int { 1 }
}

/// The blocks one process runs, in order, as an architecture file composed them: the token
/// embedding (first pipeline stage only), the residual blocks of its layers, the output head (last
/// stage only).
struct ModelBlocks: Sendable {
    let embedding: Embedding?
    let residual: [any ResidualBlock]
    let head: OutputHead?
    /// (residual block, phase) of every step of a pass, in order (`Pass.step`).
    let steps: [(block: Int, phase: Int)]

    /// Composes the part `weights` loads: `layer(l)` gives layer l's residual blocks in order (an
    /// architecture's attention and feed-forward); the embedding and head only where the part holds them.
    init(_ weights: WeightLoader, embedding: @autoclosure () throws -> Embedding, head: @autoclosure () throws -> OutputHead,
         layer: (Int) throws -> [any ResidualBlock]) throws {
        self.embedding = weights.layers.lowerBound == 0 ? try embedding() : nil
        residual = try weights.layers.flatMap(layer)
        self.head = weights.layers.upperBound == weights.whole.layerCount ? try head() : nil
        steps = residual.enumerated().flatMap { i, block in (0..<block.phases).map { (i, $0) } }
    }

    /// Every matrix one pass reads, in order, with the output head marked.
    var linears: [(linear: Linear, isOutputHead: Bool)] {
        residual.flatMap { $0.linears.map { ($0, false) } } + (head.map { [($0.output, true)] } ?? [])
    }
}
