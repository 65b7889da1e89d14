import CChorusKernels
import ChorusGGUF
import ChorusKernels
import Testing

/// Grouped expert products: the rows routed to one expert, gathered and multiplied together by that
/// expert's slice of a stacked 3-D tensor, give each row exactly the bits of its single-row product with
/// the expert's own matrix, whatever the routing, on every int8 path the CPU has.
extension MatMulPathTests {
    @Test(arguments: [(GGMLType.q4_1, 24, 576), (.q4_0, 8, 192), (.q8_0, 16, 576), (.q5_0, 9, 320), (.q4_K, 24, 512),
                      (.q6_K, 16, 768), (.q5_K, 8, 256), (.q3_K, 9, 256), (.q2_K, 8, 512)])
    func groupedExpertProductsGiveEachRowItsSingleRowBits(type: GGMLType, rowsPerExpert: Int, columns: Int) {
        let experts = 6, tokens = 41
        var rng = SplitMix(seed: UInt64(rowsPerExpert * 131 + columns) &+ UInt64(type.rawValue))
        // Each expert's matrix made on its own, then stacked expert after expert as llama.cpp stores them.
        let perExpert = (0..<experts).map { _ in randomWeightBytes(type, rows: rowsPerExpert, columns: columns, rng: &rng) }
        let stacked = perExpert.flatMap { $0 }
        let x = (0..<tokens * columns).map { _ in Float.random(in: -2...2, using: &rng) }
        let formats = MatMul.activationFormat(for: type)
        let batch = QuantizedActivations(maxRows: tokens, columns: columns, formats: formats)
        x.withUnsafeBufferPointer { for t in 0..<tokens { batch.quantize(row: t, from: $0.baseAddress! + t * columns) } }

        // Each token alone against each expert's own matrix, on the Swift path.
        let original = MatMul.path
        MatMul.setPath(.swift)
        var alone = [[Float]](repeating: [], count: tokens * experts)
        let one = QuantizedActivations(maxRows: 1, columns: columns, formats: formats)
        for t in 0..<tokens {
            x.withUnsafeBufferPointer { one.quantize(row: 0, from: $0.baseAddress! + t * columns) }
            for e in 0..<experts {
                var y = [Float](repeating: .nan, count: rowsPerExpert)
                perExpert[e].withUnsafeBytes { bytes in
                    let w = WeightMatrix(name: "e\(e)", type: type, rows: rowsPerExpert, columns: columns, data: bytes.baseAddress!)
                    y.withUnsafeMutableBufferPointer { MatMul.multiply(w, one, xRows: 1, into: $0.baseAddress!, yStride: rowsPerExpert, rows: 0..<rowsPerExpert) }
                }
                alone[t * experts + e] = y
            }
        }
        MatMul.setPath(original)

        // Routings: random top-2, everything on one expert (some experts get nothing), and top-k = all.
        var routings: [(k: Int, selected: [Int32])] = []
        for _ in 0..<3 {
            routings.append((2, (0..<tokens).flatMap { _ -> [Int32] in
                let a = Int32.random(in: 0..<Int32(experts), using: &rng)
                let b = (a + Int32.random(in: 1..<Int32(experts), using: &rng)) % Int32(experts)
                return [a, b]
            }))
        }
        routings.append((1, Array(repeating: 3, count: tokens)))
        routings.append((experts, (0..<tokens).flatMap { t in (0..<experts).map { Int32((t + $0) % experts) } }))

        let gathered = QuantizedActivations(maxRows: tokens, columns: columns, formats: formats)
        stacked.withUnsafeBytes { bytes in
            let weights = ExpertWeights(WeightMatrix(name: "exps", type: type, rows: experts * rowsPerExpert, columns: columns,
                                                     data: bytes.baseAddress!), experts: experts)
            forEachPath { path in
                for routing in routings {
                    let assignment = ExpertAssignment(selected: routing.selected, k: routing.k, experts: experts)
                    #expect(assignment.tokens.map(\.count).reduce(0, +) == tokens * routing.k)
                    for e in 0..<experts {
                        let rows = assignment.tokens[e]
                        var y = [Float](repeating: .nan, count: max(1, rows.count) * rowsPerExpert)
                        // Output rows split between two calls, as two workers would.
                        let cut = rowsPerExpert / 3
                        y.withUnsafeMutableBufferPointer { out in
                            for range in [0..<cut, cut..<rowsPerExpert] {
                                ExpertProducts.multiply(weights, expert: e, batch, routedRows: rows, gathered: gathered,
                                                        into: out.baseAddress!, yStride: rowsPerExpert, rows: range)
                            }
                        }
                        for (j, t) in rows.enumerated() {
                            #expect(Array(y[j * rowsPerExpert..<(j + 1) * rowsPerExpert]).map(\.bitPattern) == alone[t * experts + e].map(\.bitPattern),
                                    "\(type) on \(path): token \(t) of \(rows.count) routed to expert \(e) differs from its single-row product")
                        }
                    }
                }
            }
        }
    }

    /// Gathering copies the routed rows bit for bit, in the order given (repeats allowed).
    @Test func gatherCopiesRoutedRows() {
        let columns = 512, rows = 9
        var rng = SplitMix(seed: 5)
        let x = (0..<rows * columns).map { _ in Float.random(in: -3...3, using: &rng) }
        let source = QuantizedActivations(maxRows: rows, columns: columns, formats: [.blocks32, .k256])
        x.withUnsafeBufferPointer { for r in 0..<rows { source.quantize(row: r, from: $0.baseAddress! + r * columns) } }
        let picked = [7, 2, 2, 0, 8]
        let target = QuantizedActivations(maxRows: picked.count, columns: columns, formats: [.blocks32, .k256])
        target.gather(picked, from: source)
        let fresh = QuantizedActivations(maxRows: 1, columns: columns, formats: [.blocks32, .k256])
        for (i, r) in picked.enumerated() {
            x.withUnsafeBufferPointer { fresh.quantize(row: 0, from: $0.baseAddress! + r * columns) }
            let a = UnsafeRawBufferPointer(start: target.row(i), count: source.blocksPerRow * MemoryLayout<ChorusQ8Block>.stride)
            let b = UnsafeRawBufferPointer(start: fresh.row(0), count: source.blocksPerRow * MemoryLayout<ChorusQ8Block>.stride)
            #expect(a.elementsEqual(b), "row \(i) (source \(r)) in blocks of 32")
            let c = UnsafeRawBufferPointer(start: target.superRow(i), count: source.superBlocksPerRow * MemoryLayout<ChorusQ8KBlock>.stride)
            let d = UnsafeRawBufferPointer(start: fresh.superRow(0), count: source.superBlocksPerRow * MemoryLayout<ChorusQ8KBlock>.stride)
            #expect(c.elementsEqual(d), "row \(i) (source \(r)) in super-blocks")
        }
    }

    /// A 3-D GGUF tensor `[columns, rowsPerExpert, experts]` gives expert e the rows e*n ..< (e+1)*n.
    @Test func expertWeightsSliceTheStackedTensor() {
        let info = GGUFTensorInfo(name: "blk.0.ffn_up_exps.weight", dimensions: [64, 3, 4], type: .q8_0, offset: 0)
        let bytes = [UInt8](repeating: 0, count: info.byteCount)
        bytes.withUnsafeBytes { raw in
            let weights = ExpertWeights(info, data: raw.baseAddress!)
            #expect(weights.experts == 4 && weights.rowsPerExpert == 3 && weights.stacked.rows == 12)
            for e in 0..<4 {
                let m = weights.expert(e)
                #expect(m.rows == 3 && m.columns == 64 && m.data == raw.baseAddress! + e * 3 * 2 * 34)
            }
        }
    }
}
