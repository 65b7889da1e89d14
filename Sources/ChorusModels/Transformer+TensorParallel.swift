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

extension Transformer {
    /// Makes every slice's rows of one split output whole on every slice: `local` holds this
    /// slice's [rows][widths[slice]] values; `whole` receives [rows][sum of widths], slice i's
    /// columns after those of slices before it. Only copies and an all-gather: no arithmetic, so
    /// the whole rows carry exactly the bits one process computes.
    func gatherSlices(_ local: UnsafePointer<Float>, widths: [Int], into whole: UnsafeMutablePointer<Float>, rows n: Int) {
        guard let allGather, let send = scratch.sliceSend, let receive = scratch.sliceReceive else {
            preconditionFailure("a tensor-parallel slice needs Transformer.allGather")
        }
        let padded = widths.max() ?? 0, mine = widths[part.tensorSlice], total = widths.reduce(0, +)
        for t in 0..<n { (send + t * padded).update(from: local + t * mine, count: mine) }
        allGather(UnsafeBufferPointer(start: send, count: n * padded),
                  UnsafeMutableBufferPointer(start: receive, count: widths.count * n * padded))
        var offset = 0
        for (i, width) in widths.enumerated() {
            let block = receive + i * n * padded
            for t in 0..<n { (whole + t * total + offset).update(from: block + t * padded, count: width) }
            offset += width
        }
    }
}
