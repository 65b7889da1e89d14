import ChorusKernels

/// The final norm and the output head: logits of the rows whose logits are wanted, over every
/// vocabulary id or (`ExecutionContext.headVocabulary`) only some, the others -infinity.
final class OutputHead: Sendable {
    let norm: RMSNorm
    /// The head (the embedding matrix itself when the model ties them).
    let output: Linear

    init(_ weights: WeightLoader) throws {
        let c = weights.whole
        norm = try weights.norm("output_norm.weight")
        let tied = !weights.has("output.weight")
        output = Linear(try weights.matrix(tied ? "token_embd.weight" : "output.weight", rows: c.vocabularySize,
                                           columns: c.embeddingLength))
    }

    /// Logits of `pass.logitRows` into the workspace's logits from row `pass.logitOffset` on.
    func forward(_ pass: Pass) {
        let w = pass.workspace, d = w.width, rows = pass.logitRows, m = rows.count
        let vocabulary = output.rows
        pass.time(.norm) {
            for (i, t) in rows.enumerated() {
                norm.apply(w.x + t * d, into: w.normed + i * d)
                w.input.quantize(row: i, from: w.normed + i * d)
            }
        }
        pass.tap("l_out-last", w.x + rows[m - 1] * d, count: d)
        pass.tap("result_norm", w.normed + (m - 1) * d, count: d)
        let logits = w.logits + pass.logitOffset * vocabulary
        let ids = pass.context.headVocabulary ?? [0..<vocabulary]
        let rounding = pass.context.rounding.product(rows: m)
        pass.time(.matmul(output.type)) {
            if pass.context.headVocabulary != nil {
                UnsafeMutableBufferPointer(start: logits, count: m * vocabulary).update(repeating: -.infinity)
            }
            pass.run(ids.reduce(0) { $0 + $1.count }, op: .linear, grain: 64) { range, _ in
                Linear.forEachPiece(of: range, stacking: ids) { _, outputs in
                    output.multiply(w.input, xRows: m, into: logits, yStride: vocabulary, outputs: outputs, rounding: rounding)
                }
            }
        }
        pass.tap("result_output", logits + (m - 1) * vocabulary, count: vocabulary)
    }
}

// MARK: - Training: loss, and the gradient of the last hidden states (B)

/// What the head's training forward keeps: the residual stream it read, its loss rows, and for each
/// loss row the gradient of its token loss with respect to the logits, softmax - onehot(target).
final class HeadActivations {
    let residual: Floats
    let lossRows: [Int]
    let logitGradients: Floats

    init(residual: Floats, lossRows: [Int], logitGradients: Floats) {
        self.residual = residual
        self.lossRows = lossRows
        self.logitGradients = logitGradients
    }

    var byteCount: Int { residual.byteCount + logitGradients.byteCount }
}

extension OutputHead {
    /// The summed cross-entropy of the batch's loss rows (only those go through the head), from the
    /// residual stream `x` ([rows][width]), with every vocabulary id scored; keeps what B needs.
    func trainingForward(_ x: Floats, _ step: TrainingStep) -> (kept: HeadActivations, lossSum: Double) {
        let rows = step.batch.lossRows, m = rows.count, d = norm.count, vocabulary = output.rows, w = output.weight
        let normed = Floats(m * d), logits = Floats(m * vocabulary), losses = Floats(m)
        step.run(m, op: .rowwise, grain: 4) { range, _ in
            for i in range { norm.apply(x.pointer + rows[i] * d, into: normed.pointer + i * d) }
        }
        step.run(vocabulary, op: .linear, grain: 64) { range, _ in
            FloatProducts.multiply(w, normed.pointer, xStride: d, rows: m, into: logits.pointer, yStride: vocabulary, outputs: range)
        }
        let targets = step.batch.targets
        step.run(m, op: .rowwise) { range, _ in
            for i in range {
                losses.pointer[i] = Self.crossEntropy(logits.pointer + i * vocabulary, vocabulary, target: targets[rows[i]])
            }
        }
        var sum = 0.0
        for i in 0..<m { sum += Double(losses.pointer[i]) }
        return (HeadActivations(residual: x, lossRows: rows, logitGradients: logits), sum)
    }

    /// -log softmax(z)[target], turning z into softmax(z) - onehot(target) in place.
    static func crossEntropy(_ z: UnsafeMutablePointer<Float>, _ n: Int, target: Int) -> Float {
        let logit = z[target]
        var m = -Float.infinity
        for i in 0..<n { m = max(m, z[i]) }
        var sum = 0.0
        var i = 0
        let shift = SIMD8<Float>(repeating: m), raw = UnsafeMutableRawPointer(z)
        while i + 8 <= n {
            let e = VectorExp.exp(raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) - shift)
            raw.storeBytes(of: e, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            sum += Double(e.sum())
            i += 8
        }
        while i < n {
            z[i] = expf(z[i] - m)
            sum += Double(z[i])
            i += 1
        }
        let loss = Float(Double(m - logit) + log(sum))
        let inverse = Float(1 / sum)
        for i in 0..<n { z[i] *= inverse }
        z[target] -= 1
        return loss
    }

    /// B: the gradient of the residual stream ([rows][width], overwritten) from the loss with
    /// d(step loss)/d(token loss) = `lossScale`: W_out^T (softmax - onehot) through the dequantised
    /// head, then the final norm's backward; rows outside the loss get zero.
    func backwardInput(_ kept: HeadActivations, lossScale: Float, into dx: UnsafeMutablePointer<Float>, _ step: TrainingStep) {
        let m = kept.lossRows.count, d = norm.count, vocabulary = output.rows, w = output.weight
        let dNormed = Floats(m * d)
        step.run(d, op: .linear, grain: FloatProducts.columnGrain(w)) { range, _ in
            FloatProducts.multiplyTransposed(w, kept.logitGradients.pointer, dyStride: vocabulary, rows: m, into: dNormed.pointer, dxStride: d,
                                             columns: range, accumulate: false)
        }
        dx.update(repeating: 0, count: step.rows * d)
        step.run(m, op: .rowwise, grain: 4) { range, _ in
            for i in range {
                let g = dNormed.pointer + i * d, t = kept.lossRows[i]
                for c in 0..<d { g[c] *= lossScale }
                norm.backward(kept.residual.pointer + t * d, g, into: dx + t * d, accumulate: false)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
