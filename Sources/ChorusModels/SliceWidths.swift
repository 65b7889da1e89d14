/// Widths (columns per row) each tensor-parallel slice computes of the three split outputs, in
/// slice order; slice i's columns follow slices 0..<i's in the whole row.
struct SliceWidths: Sendable {
    /// Attention output (the slice's query heads x head dimension).
    var attention: [Int]
    /// Feed-forward hidden rows (gate/up output rows).
    var hidden: [Int]
    /// Residual-stream features (attention output and down projection rows).
    var model: [Int]

    init(part: ModelPart, config: ModelConfig) throws {
        let slices = try (0..<part.tensorSlices).map {
            try ModelPart(layers: part.layers, tensorSlice: $0, tensorSlices: part.tensorSlices).slice(of: config)
        }
        attention = slices.map { $0.heads.count * config.headDimension }
        hidden = slices.map(\.feedForward.count)
        model = slices.map(\.modelRows.count)
    }

    var count: Int { model.count }
    var widest: Int { (attention + hidden + model).max() ?? 0 }
}
