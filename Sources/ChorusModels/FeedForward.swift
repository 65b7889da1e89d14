import ChorusKernels

/// The dense gated feed-forward block: down(act(gate x) * up x), act SiLU (SwiGLU) or GELU-tanh
/// (GeGLU), with an optional output norm (Gemma 3). A tensor slice holds a range of the hidden
/// rows of gate and up and a range of the output rows of down.
final class FeedForward: ResidualBlock {
    enum Activation: Sendable { case silu, geluTanh }

    let layer: Int
    let norms: ResidualNorms
    let gate: Linear
    let up: Linear
    let down: Linear
    let activation: Activation

    /// Loads layer `layer`'s `ffn_gate`, `ffn_up`, `ffn_down` and `ffn_norm` (and `post_ffw_norm`
    /// when `outputNorm`).
    init(_ weights: WeightLoader, layer: Int, activation: Activation, outputNorm: Bool = false) throws {
        let c = weights.whole, p = "blk.\(layer)."
        self.layer = layer
        self.activation = activation
        norms = ResidualNorms(input: try weights.norm(p + "ffn_norm.weight"),
                              output: outputNorm ? try weights.norm(p + "post_ffw_norm.weight") : nil)
        gate = try weights.linear(p + "ffn_gate.weight", rows: c.feedForwardLength, columns: c.embeddingLength, split: .feedForward)
        up = try weights.linear(p + "ffn_up.weight", rows: c.feedForwardLength, columns: c.embeddingLength, split: .feedForward)
        down = try weights.linear(p + "ffn_down.weight", rows: c.embeddingLength, columns: c.feedForwardLength, split: .modelRows)
    }

    var linears: [Linear] { [gate, up, down] }

    func forward(phase: Int, _ pass: Pass) {
        let (gate, up, activation, rounding) = (self.gate, self.up, self.activation, pass.rounding)
        let w = pass.workspace, s = w.feedForward, n = pass.rows, ffn = gate.rows
        let sliced = w.slices != nil
        // gate, up = W x; hidden = act(gate) * up, quantised block by block in the same region
        pass.time(.matmul(gate.type)) {
            // Ranges end on quantisation-block boundaries so each thread quantises what it computed.
            let grain = s.hiddenFormats.contains(.k256) ? 256 : 32
            pass.run(ffn, op: .linear, grain: grain) { range, _ in
                gate.multiply(w.input, xRows: n, into: s.gate, yStride: ffn, outputs: range, rounding: rounding)
                up.multiply(w.input, xRows: n, into: s.up, yStride: ffn, outputs: range, rounding: rounding)
                for t in 0..<n {
                    let g = s.gate + t * ffn + range.lowerBound, u = s.up + t * ffn + range.lowerBound
                    switch activation {
                    case .silu: VectorOps.swiglu(g, u, range.count)
                    case .geluTanh: VectorOps.geglu(g, u, range.count)
                    }
                    if !sliced { s.hidden.quantize(row: t, columns: range, from: g) }
                }
            }
        }
        // A tensor slice has its hidden rows; every slice's rows make the whole hidden rows.
        if let slices = w.slices {
            pass.gather(s.gate, widths: slices.widths.hidden, into: slices.gathered)
            let width = slices.widths.hidden.reduce(0, +)
            pass.time(.quantize) {
                pass.run(n, op: .rowwise, grain: 4) { range, _ in
                    for t in range { s.hidden.quantize(row: t, from: slices.gathered + t * width) }
                }
            }
        }
        pass.project(down, s.hidden)
    }
}

/// Feed-forward buffers of a workspace, for the widest feed-forward block: gate and up outputs
/// [rows][hidden] (the activation is written over gate), and the hidden rows quantised for down
/// (whole rows on a tensor slice, which gathers every slice's first).
final class FeedForwardScratch: @unchecked Sendable {
    let gate: UnsafeMutablePointer<Float>
    let up: UnsafeMutablePointer<Float>
    let hidden: QuantizedActivations
    let hiddenFormats: ActivationFormats

    init(_ blocks: [FeedForward], rows: Int, wholeWidth: Int?) {
        let width = blocks.map(\.gate.rows).max() ?? 0
        gate = Workspace.zeroed(rows * width)
        up = Workspace.zeroed(rows * width)
        hiddenFormats = MatMul.activationFormats(for: blocks.map(\.down.type))
        hidden = QuantizedActivations(maxRows: rows, columns: wholeWidth ?? width, formats: hiddenFormats)
    }

    deinit {
        gate.deallocate()
        up.deallocate()
    }
}
