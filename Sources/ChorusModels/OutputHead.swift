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
