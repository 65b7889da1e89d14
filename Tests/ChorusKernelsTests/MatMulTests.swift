import CQuantBlocks
import ChorusGGUF
import ChorusKernels
import Testing

/// Every weight type with an int8 product.
let int8Types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

/// A random weight matrix and random activation rows quantised in the format its type reads.
struct ProductCase {
    let type: GGMLType
    let rows: Int, columns: Int, xRows: Int
    let bytes: [UInt8]
    let x: [Float]

    init(_ type: GGMLType, rows: Int, columns: Int, xRows: Int, seed: UInt64) {
        var rng = SplitMix(seed: seed &* 31 &+ type.rawValue.asUInt64)
        var xrng = SplitMix(seed: seed)
        self.type = type
        self.rows = rows
        self.columns = columns
        self.xRows = xRows
        bytes = randomWeightBytes(type, rows: rows, columns: columns, rng: &rng)
        x = (0..<xRows * columns).map { _ in Float.random(in: -2...2, using: &xrng) }
    }

    func withMatrix<R>(_ body: (WeightMatrix) -> R) -> R {
        bytes.withUnsafeBytes { body(WeightMatrix(name: "w", type: type, rows: rows, columns: columns, data: $0.baseAddress!)) }
    }

    /// Activation rows `range` of x quantised into rows 0..<range.count.
    func activations(_ range: Range<Int>? = nil, formats: ActivationFormats? = nil) -> QuantizedActivations {
        let range = range ?? 0..<xRows
        let q = QuantizedActivations(maxRows: range.count, columns: columns, formats: formats ?? MatMul.activationFormat(for: type))
        x.withUnsafeBufferPointer { for (i, j) in range.enumerated() { q.quantize(row: i, from: $0.baseAddress! + j * columns) } }
        return q
    }

    /// y[j * rows + r] for the given activations, weight rows split at `splits`.
    func product(_ q: QuantizedActivations, xRows n: Int, splits: [Int] = [], gemmRows: Int = 0, tiled: Bool = false) -> [Float] {
        var y = [Float](repeating: .nan, count: n * rows)
        let bounds = [0] + splits + [rows]
        withMatrix { w in
            y.withUnsafeMutableBufferPointer { out in
                for (lo, hi) in zip(bounds, bounds.dropFirst()) {
                    MatMul.multiply(w, q, xRows: n, into: out.baseAddress!, yStride: rows, rows: lo..<hi, gemmRows: gemmRows, tiled: tiled)
                }
            }
        }
        return y
    }

    /// The exact value of each product of the quantised operands, in Double, from the dequantised
    /// weights and activations (for Q4_1/Q5_1 the min term uses the activation block's stored s, as
    /// ggml does); and the sum of |terms| each output is made of, the scale for its rounding error.
    func reference(_ q: QuantizedActivations) -> (values: [Double], magnitudes: [Double]) {
        var values = [Double](repeating: 0, count: xRows * rows), magnitudes = values
        var wrow = [Float](repeating: 0, count: columns)
        withMatrix { w in
            for r in 0..<rows {
                wrow.withUnsafeMutableBufferPointer { w.dequantizeRow(r, into: $0.baseAddress!) }
                for j in 0..<xRows {
                    var s = 0.0, m = 0.0
                    if MatMul.activationFormat(for: type) == .k256 {
                        for c in 0..<columns {
                            let block = q.superRow(j)[c / 256]
                            let xv = Double(block.d) * withUnsafeBytes(of: block.qs) { Double(Int8(bitPattern: $0[c % 256])) }
                            s += Double(wrow[c]) * xv
                            m += abs(Double(wrow[c]) * xv)
                        }
                    } else {
                        let blocks = q.row(j)
                        let hasMin = type == .q4_1 || type == .q5_1
                        for b in 0..<columns / 32 {
                            let xb = blocks[b]
                            let wmin = hasMin ? Double(halfToFloat(w.row(r).loadUnaligned(fromByteOffset: b * type.bytesPerBlock + type.linearScaleOffsets![1], as: UInt16.self))) : 0
                            for c in 32 * b..<32 * b + 32 {
                                let xq = withUnsafeBytes(of: xb.qs) { Double(Int8(bitPattern: $0[c % 32])) }
                                let term = (Double(wrow[c]) - wmin) * Double(xb.d) * xq
                                s += term
                                m += abs(term)
                            }
                            s += wmin * Double(xb.s)
                            m += abs(wmin * Double(xb.s))
                        }
                    }
                    values[j * rows + r] = s
                    magnitudes[j * rows + r] = m
                }
            }
        }
        return (values, magnitudes)
    }
}

extension UInt32 { var asUInt64: UInt64 { UInt64(self) } }

/// Switching the int8 path is process-wide, so these cases run one at a time.
@Suite(.serialized) struct MatMulPathTests {
    static let shapes32 = [(1, 32, 1), (7, 96, 3), (33, 576, 5), (19, 1536, 9), (7, 256, 2), (1, 8960, 1), (3, 8960, 4)]
    static let shapes256 = [(1, 256, 1), (7, 512, 3), (13, 1536, 9), (17, 256, 7), (1, 8960, 1), (3, 8960, 5), (9, 1024, 6)]

    @Test(arguments: int8Types)
    func everyPathIsBitIdenticalAndMatchesReference(type: GGMLType) {
        let shapes = MatMul.activationFormat(for: type) == .k256 ? Self.shapes256 : Self.shapes32
        for (rows, columns, xRows) in shapes {
            let test = ProductCase(type, rows: rows, columns: columns, xRows: xRows, seed: UInt64(rows * columns + xRows))
            let q = test.activations()
            var results: [MatMul.Path: [Float]] = [:]
            forEachPath { results[$0] = test.product(q, xRows: xRows) }
            let swift = results[.swift]!
            for (path, y) in results {
                #expect(y.map(\.bitPattern) == swift.map(\.bitPattern), "path \(path) differs from the Swift path for \(type) \(rows)x\(columns), \(xRows) rows")
            }
            let (reference, magnitude) = test.reference(q)
            var worst = 0.0
            for i in swift.indices { worst = max(worst, abs(Double(swift[i]) - reference[i]) / max(magnitude[i], 1e-30)) }
            #expect(worst < 2e-6, "error \(worst) of the term magnitude for \(type) \(rows)x\(columns)")
        }
    }

    /// Batch invariance on every path: an activation row gives the same bits alone, in a batch, and
    /// with the weight rows split between two calls (as two workers would).
    @Test(arguments: int8Types)
    func rowOfABatchEqualsTheRowAlone(type: GGMLType) {
        let test = ProductCase(type, rows: 40, columns: 512, xRows: 13, seed: 7)
        let batch = test.activations()
        forEachPath { path in
            let all = test.product(batch, xRows: 13)
            let split = test.product(batch, xRows: 13, splits: [17])
            #expect(all.map(\.bitPattern) == split.map(\.bitPattern), "\(type) on \(path): split batch differs")
            for j in [0, 5, 12] {
                let alone = test.product(test.activations(j..<j + 1), xRows: 1, splits: [3, 17])
                #expect(Array(all[j * 40..<(j + 1) * 40]).map(\.bitPattern) == alone.map(\.bitPattern), "\(type) on \(path): row \(j) alone differs")
            }
        }
    }

    /// Q4_K matrices with a multiple of 8 rows take llama.cpp's repacked order: per activation row the
    /// gemv order (one fma per super-block) or, for rows below `gemmRows`, the gemm order (one per 64
    /// weights). Every path gives the same bits for both, whatever the tile or the weight-row split;
    /// a gemv row equals the row alone, a gemm row equals itself in any other batch as a gemm row.
    @Test func q4KRepackedOrdersAreBitIdenticalOnEveryPath() {
        for (rows, columns, xRows, gemmRows) in [(8, 256, 1, 0), (16, 512, 5, 4), (24, 1536, 9, 8), (40, 1024, 7, 7), (32, 8960, 3, 0)] {
            let test = ProductCase(.q4_K, rows: rows, columns: columns, xRows: xRows, seed: UInt64(rows + columns + xRows))
            let q = test.activations()
            var results: [MatMul.Path: [Float]] = [:]
            forEachPath { path in
                let y = test.product(q, xRows: xRows, gemmRows: gemmRows)
                results[path] = y
                let split = test.product(q, xRows: xRows, splits: [3, rows / 2 + 1], gemmRows: gemmRows)
                #expect(y.map(\.bitPattern) == split.map(\.bitPattern), "\(rows)x\(columns) on \(path): split differs")
                for j in 0..<xRows {
                    // The row alone, in the same order.
                    let alone = test.product(test.activations(j..<j + 1), xRows: 1, gemmRows: j < gemmRows ? 1 : 0)
                    #expect(Array(y[j * rows..<(j + 1) * rows]).map(\.bitPattern) == alone.map(\.bitPattern),
                            "\(rows)x\(columns) on \(path): row \(j) (gemm: \(j < gemmRows)) differs from the row alone")
                }
            }
            for (path, y) in results {
                #expect(y.map(\.bitPattern) == results[.swift]!.map(\.bitPattern), "path \(path) differs from Swift for \(rows)x\(columns), gemmRows \(gemmRows)")
            }
            let (reference, magnitude) = test.reference(q)
            var worst = 0.0
            for i in reference.indices { worst = max(worst, abs(Double(results[.swift]![i]) - reference[i]) / max(magnitude[i], 1e-30)) }
            #expect(worst < 2e-6, "error \(worst) of the term magnitude for \(rows)x\(columns)")
        }
    }

    /// The repacked order is llama.cpp's, not vec_dot's: for a multiple-of-8 matrix the results
    /// differ from those of the same rows in a matrix llama.cpp would not repack, and the gemm and
    /// gemv orders differ from each other (on random data almost every element).
    @Test func q4KRepackedOrdersDifferFromVecDot() {
        let test = ProductCase(.q4_K, rows: 8, columns: 2048, xRows: 1, seed: 5)
        let q = test.activations()
        let gemv = test.product(q, xRows: 1), gemm = test.product(q, xRows: 1, gemmRows: 1)
        // The same weights' first 7 rows: a matrix llama.cpp would not repack (vec_dot order).
        var vecDot = [Float](repeating: .nan, count: 7)
        test.bytes.withUnsafeBytes { raw in
            let w = WeightMatrix(name: "w7", type: .q4_K, rows: 7, columns: 2048, data: raw.baseAddress!)
            vecDot.withUnsafeMutableBufferPointer { MatMul.multiply(w, q, xRows: 1, into: $0.baseAddress!, yStride: 7, rows: 0..<7) }
        }
        #expect(zip(gemv, gemm).contains { $0.bitPattern != $1.bitPattern })
        #expect(zip(gemv.prefix(7), vecDot).contains { $0.bitPattern != $1.bitPattern })
        for i in 0..<7 { #expect(abs(gemv[i] - vecDot[i]) <= 1e-4 * max(1, abs(vecDot[i]))) }
    }

    /// Q6_K in llama.cpp's tiled order (products of 8 or more rows): every path gives the same bits,
    /// whatever the tile, the batch or the weight-row split, close to the exact value, and not the
    /// vec_dot bits.
    @Test func q6KTiledOrderIsBitIdenticalOnEveryPath() {
        for (rows, columns, xRows) in [(7, 256, 1), (16, 1536, 9), (13, 8960, 5)] {
            let test = ProductCase(.q6_K, rows: rows, columns: columns, xRows: xRows, seed: UInt64(rows * 3 + columns))
            let q = test.activations()
            var results: [MatMul.Path: [Float]] = [:]
            forEachPath { path in
                let y = test.product(q, xRows: xRows, tiled: true)
                results[path] = y
                #expect(y.map(\.bitPattern) == test.product(q, xRows: xRows, splits: [5], tiled: true).map(\.bitPattern))
                for j in [0, xRows - 1] {
                    let alone = test.product(test.activations(j..<j + 1), xRows: 1, tiled: true)
                    #expect(Array(y[j * rows..<(j + 1) * rows]).map(\.bitPattern) == alone.map(\.bitPattern), "row \(j) on \(path)")
                }
            }
            for (path, y) in results {
                #expect(y.map(\.bitPattern) == results[.swift]!.map(\.bitPattern), "path \(path) differs from Swift, Q6_K tiled \(rows)x\(columns)")
            }
            let (reference, magnitude) = test.reference(q)
            var worst = 0.0
            for i in reference.indices { worst = max(worst, abs(Double(results[.swift]![i]) - reference[i]) / max(magnitude[i], 1e-30)) }
            #expect(worst < 2e-6, "error \(worst) for Q6_K tiled \(rows)x\(columns)")
            if columns >= 1536 {
                #expect(zip(results[.swift]!, test.product(q, xRows: xRows)).contains { $0.bitPattern != $1.bitPattern })
            }
        }
    }

    /// One activation row read by weights of both families, as in a layer mixing Q5_0 and Q4_K.
    @Test func mixedLayerReadsBothFormatsOfOneRow() {
        let formats = MatMul.activationFormats(for: [.q5_0, .q4_K, .q6_K, .q8_0])
        #expect(formats == [.blocks32, .k256])
        let a = ProductCase(.q5_0, rows: 5, columns: 1024, xRows: 3, seed: 11)
        let b = ProductCase(.q4_K, rows: 5, columns: 1024, xRows: 3, seed: 11)
        #expect(a.x == b.x, "both cases share their activations")
        let both = a.activations(formats: formats)
        forEachPath { _ in
            let sameA = a.product(both, xRows: 3).map(\.bitPattern) == a.product(a.activations(), xRows: 3).map(\.bitPattern)
            let sameB = b.product(both, xRows: 3).map(\.bitPattern) == b.product(b.activations(), xRows: 3).map(\.bitPattern)
            #expect(sameA && sameB)
        }
    }
}

@Test func activationFormatsFollowWeightTypes() {
    #expect(MatMul.activationFormats(for: [.q4_0, .q8_0]) == .blocks32)
    #expect(MatMul.activationFormats(for: [.q4_K, .q6_K]) == .k256)
    #expect(MatMul.activationFormats(for: [.f32, .f16]).isEmpty)
    for type in GGMLType.allCases {
        #expect(MatMul.supports(type) == int8Types.contains(type), "\(type)")
    }
}
