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
        // gate, up = W x (+ s B A x); hidden = act(gate) * up, quantised block by block in the same region
        let downs = pass.loraDowns([gate, up], source: w.normed)
        pass.time(.matmul(gate.type)) {
            // Ranges end on quantisation-block boundaries so each thread quantises what it computed.
            let grain = s.hiddenFormats.contains(.k256) ? 256 : 32
            pass.run(ffn, op: .linear, grain: grain) { range, _ in
                gate.multiply(w.input, xRows: n, into: s.gate, yStride: ffn, outputs: range, rounding: rounding)
                up.multiply(w.input, xRows: n, into: s.up, yStride: ffn, outputs: range, rounding: rounding)
                if let down = downs[0] { gate.loraUp(down, rows: n, into: s.gate, yStride: ffn, outputs: range) }
                if let down = downs[1] { up.loraUp(down, rows: n, into: s.up, yStride: ffn, outputs: range) }
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
        pass.project(down, s.hidden, source: w.slices.map { UnsafePointer($0.gathered) } ?? UnsafePointer(s.gate))
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

// MARK: - Training: the f32 forward keeping what the backward needs, B and W

extension FeedForward.Activation {
    /// The activation of one gate value in f32 (SiLU: g / (1 + e^-g); GELU with the tanh approximation).
    @inline(__always)
    func value(_ g: Float) -> Float {
        switch self {
        case .silu: return g / (1 + expf(-g))
        case .geluTanh: return 0.5 * g * (1 + tanhf(Self.geluK * (g + 0.044715 * g * g * g)))
        }
    }

    /// Its derivative at g.
    @inline(__always)
    func derivative(_ g: Float) -> Float {
        switch self {
        case .silu:
            let s = 1 / (1 + expf(-g))
            return s * (1 + g * (1 - s))
        case .geluTanh:
            let t = tanhf(Self.geluK * (g + 0.044715 * g * g * g))
            return 0.5 * (1 + t) + 0.5 * g * (1 - t * t) * Self.geluK * (1 + 3 * 0.044715 * g * g)
        }
    }

    static let geluK: Float = (2 / Float.pi).squareRoot()
}

/// What the feed-forward's training forward keeps: the normalised input, gate and up outputs, the
/// hidden rows act(gate) * up (down's input), and each adapted product's A x.
final class FeedForwardActivations: BlockActivations {
    let input: Floats, gate: Floats, up: Floats, hidden: Floats
    /// A x of gate, up, down (nil where a product has no adapter).
    let downs: [Floats?]

    init(input: Floats, gate: Floats, up: Floats, hidden: Floats, downs: [Floats?]) {
        (self.input, self.gate, self.up, self.hidden, self.downs) = (input, gate, up, hidden, downs)
    }

    var byteCount: Int { [input, gate, up, hidden].reduce(0) { $0 + $1.byteCount } + downs.reduce(0) { $0 + ($1?.byteCount ?? 0) } }
}

extension FeedForward: TrainableBlock {
    func trainingForward(_ input: Floats, into output: UnsafeMutablePointer<Float>, _ step: TrainingStep) -> any BlockActivations {
        let n = step.rows, f = gate.rows, activation = self.activation
        let g = Floats(n * f), u = Floats(n * f), hidden = Floats(n * f)
        var downs = [gate.trainingForward(input.pointer, into: g.pointer, step), up.trainingForward(input.pointer, into: u.pointer, step)]
        step.run(n * f, op: .rowwise, grain: 256) { range, _ in
            for i in range { hidden.pointer[i] = activation.value(g.pointer[i]) * u.pointer[i] }
        }
        downs.append(down.trainingForward(hidden.pointer, into: output, step))
        return FeedForwardActivations(input: input, gate: g, up: u, hidden: hidden, downs: downs)
    }

    func backwardInput(_ kept: any BlockActivations, outputGradient: Floats, into inputGradient: UnsafeMutablePointer<Float>,
                       _ step: TrainingStep) -> [LoRAGradientInputs] {
        let a = kept as! FeedForwardActivations, n = step.rows, f = gate.rows, activation = self.activation
        let dHidden = Floats(n * f)
        var inputs = [down.backwardInput(outputGradient, into: dHidden.pointer, accumulate: false, input: a.hidden, down: a.downs[2], step)]
        let dGate = Floats(n * f), dUp = Floats(n * f)
        step.run(n * f, op: .rowwise, grain: 256) { range, _ in
            for i in range {
                let g = a.gate.pointer[i], dh = dHidden.pointer[i]
                dGate.pointer[i] = dh * a.up.pointer[i] * activation.derivative(g)
                dUp.pointer[i] = dh * activation.value(g)
            }
        }
        inputs.append(gate.backwardInput(dGate, into: inputGradient, accumulate: false, input: a.input, down: a.downs[0], step))
        inputs.append(up.backwardInput(dUp, into: inputGradient, accumulate: true, input: a.input, down: a.downs[1], step))
        return inputs.compactMap { $0 }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
