import ChorusGGUF
import ChorusKernels
import Testing

/// Wide products (prefill, wide verification) of Q4_K and Q6_K put 16 activation rows in the lanes
/// of a vector on AVX-512 and 8 rows on AVX-VNNI (`chorus_gemm_q4_K_lanes`), the 32-value block
/// types 16 rows on AVX-512 (`chorus_gemm32_lanes`), with the rows interleaved once per call and
/// the weight rows taken 4 at a time. Each row must still get exactly its single-row bits, in every
/// group of 16, in a partial last group, with the weight rows split anywhere and the columns long
/// enough that the rows are walked in several chunks.
extension MatMulPathTests {
    @Test(arguments: [(GGMLType.q4_K, 24, 1280), (.q4_K, 40, 8960), (.q6_K, 13, 768), (.q6_K, 9, 8960),
                      (.q4_0, 13, 896), (.q4_1, 9, 320), (.q5_0, 13, 896), (.q5_1, 7, 256), (.q8_0, 11, 2048), (.q8_0, 9, 8960)])
    func wideProductsGiveEachRowItsSingleRowBits(type: GGMLType, rows: Int, columns: Int) {
        let widest = 37
        let tiled = type == .q6_K
        let test = ProductCase(type, rows: rows, columns: columns, xRows: widest, seed: UInt64(rows * 5 + columns))
        let original = MatMul.path
        MatMul.setPath(.swift)
        let alone = (0..<widest).map { j in test.product(test.activations(j..<j + 1), xRows: 1, tiled: tiled) }
        MatMul.setPath(original)
        let batch = test.activations()
        forEachPath { path in
            for width in [5, 8, 9, 11, 12, 16, 17, 31, widest] {
                let y = test.product(batch, xRows: width, splits: [5, 7], tiled: tiled)
                for j in 0..<width {
                    #expect(Array(y[j * rows..<(j + 1) * rows]).map(\.bitPattern) == alone[j].map(\.bitPattern),
                            "\(type) \(rows)x\(columns) on \(path): row \(j) of a \(width)-row product differs from the row alone")
                }
            }
        }
    }
}
