import ChorusKernels

/// The token embedding: row `token` of the embedding matrix, times a scale (Gemma: sqrt(d_model)),
/// starts each row's residual stream.
final class Embedding: Sendable {
    let table: WeightMatrix
    let scale: Float

    init(_ weights: WeightLoader, scale: Float = 1) throws {
        table = try weights.matrix("token_embd.weight", rows: weights.whole.vocabularySize, columns: weights.whole.embeddingLength,
                                   products: false)
        self.scale = scale
    }

    /// x[t] = embedding(token of row t) * scale for every row of the pass.
    func forward(_ pass: Pass) {
        let x = pass.workspace.x, d = pass.workspace.width
        for t in 0..<pass.rows {
            let (segment, row) = pass.origins[t]
            embed(token: pass.segments[segment].batch.tokens[row], into: x + t * d)
        }
    }

    /// One row: embedding(token) * scale. Frozen in training: nothing flows back into it.
    @inline(__always)
    func embed(token: Int, into x: UnsafeMutablePointer<Float>) {
        table.dequantizeRow(token, into: x)
        if scale != 1 { for i in 0..<table.columns { x[i] *= scale } }
    }
}
