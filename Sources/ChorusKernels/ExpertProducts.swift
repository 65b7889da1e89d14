import ChorusGGUF

/// A stacked expert tensor as llama.cpp stores it (`blk.N.ffn_{gate,up,down}_exps.weight`, ggml shape
/// `[columns, rowsPerExpert, experts]`): one matrix of `experts * rowsPerExpert` rows in which expert e
/// owns rows `e * rowsPerExpert ..< (e + 1) * rowsPerExpert`. Used in place from the mapped file.
public struct ExpertWeights: @unchecked Sendable {
    /// All experts as one matrix.
    public let stacked: WeightMatrix
    public let experts: Int
    /// Output rows of one expert (its width for gate/up, the model width for down).
    public let rowsPerExpert: Int

    public init(_ stacked: WeightMatrix, experts: Int) {
        precondition(experts > 0 && stacked.rows % experts == 0, "\(stacked.name): \(stacked.rows) rows are not \(experts) experts")
        self.stacked = stacked
        self.experts = experts
        self.rowsPerExpert = stacked.rows / experts
    }

    /// From a GGUF tensor of shape `[columns, rowsPerExpert, experts]` at `data`.
    public init(_ info: GGUFTensorInfo, data: UnsafeRawPointer) {
        precondition(info.dimensions.count == 3, "\(info.name) is not a 3-D expert tensor")
        self.init(WeightMatrix(name: info.name, type: info.type, rows: info.rows, columns: info.columns, data: data),
                  experts: info.dimensions[2])
    }

    /// Expert `e` as a matrix of `rowsPerExpert` rows, in place.
    public func expert(_ e: Int) -> WeightMatrix {
        precondition(e >= 0 && e < experts, "expert \(e) of \(experts)")
        return WeightMatrix(name: "\(stacked.name)[\(e)]", type: stacked.type, rows: rowsPerExpert, columns: stacked.columns,
                            data: stacked.row(e * rowsPerExpert))
    }
}

extension QuantizedActivations {
    /// Copies row `rows[i]` of `source` into row `i`, bit for bit, in every format both keep: the
    /// activation rows routed to one expert, made contiguous for the wide kernels.
    public func gather(_ rows: some Collection<Int>, from source: QuantizedActivations) {
        precondition(source.columns == columns, "gathering \(source.columns)-wide rows into \(columns)-wide ones")
        precondition(rows.count <= maxRows, "\(rows.count) rows into room for \(maxRows)")
        let kept = self.formats.intersection(source.formats)
        for (i, r) in rows.enumerated() {
            precondition(r >= 0 && r < source.maxRows, "row \(r) of \(source.maxRows)")
            if kept.contains(.blocks32) { row(i).update(from: source.row(r), count: blocksPerRow) }
            if kept.contains(.k256) { superRow(i).update(from: source.superRow(r), count: superBlocksPerRow) }
        }
    }
}

/// Grouped expert products: the activation rows routed to one expert multiplied together by that
/// expert's matrix with the wide kernels (`MatMul.multiply`). Batch invariant like every product here:
/// a row's output bits never depend on which other rows share its expert, how many, or where it sits.
public enum ExpertProducts {
    /// `y[j * yStride + r] = sum_c expert_e[r][c] * x[routedRows[j]][c]` for output rows `rows` of the
    /// expert (a worker's share) and j in `0..<routedRows.count`.
    ///
    /// - Parameters:
    ///   - x: the quantised activations of the batch, in the format `weights`' type reads.
    ///   - routedRows: rows of `x` routed to `expert`, any order and count (zero computes nothing).
    ///   - gathered: scratch of at least `routedRows.count` rows of `x`'s width and formats.
    public static func multiply(
        _ weights: ExpertWeights, expert: Int, _ x: QuantizedActivations, routedRows: [Int], gathered: QuantizedActivations,
        into y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        guard !routedRows.isEmpty, !rows.isEmpty else { return }
        precondition(rows.lowerBound >= 0 && rows.upperBound <= weights.rowsPerExpert,
                     "rows \(rows) of an expert of \(weights.rowsPerExpert)")
        gathered.gather(routedRows, from: x)
        multiply(weights, expert: expert, gathered: gathered, count: routedRows.count, into: y, yStride: yStride, rows: rows)
    }

    /// The same product for activation rows already contiguous: rows `0..<count` of `gathered` (tokens
    /// an expert-parallel rank received for this expert).
    public static func multiply(
        _ weights: ExpertWeights, expert: Int, gathered: QuantizedActivations, count: Int,
        into y: UnsafeMutablePointer<Float>, yStride: Int, rows: Range<Int>
    ) {
        guard count > 0, !rows.isEmpty else { return }
        MatMul.multiply(weights.expert(expert), gathered, xRows: count, into: y, yStride: yStride, rows: rows)
    }
}
