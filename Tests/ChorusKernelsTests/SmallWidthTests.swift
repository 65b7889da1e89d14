import ChorusGGUF
import ChorusKernels
import Testing

/// Products of a few activation rows (speculative tree verification, short prompts) take multi-row
/// tiles: groups of up to 8 rows per weight row, with their reductions done side by side. Each
/// row must still get exactly the bits of the single-row product (GEMV) on the portable Swift path,
/// at every width and position in the group, on every path, with the weight rows split anywhere.
extension MatMulPathTests {
    /// Shapes with odd counts of weight rows and blocks; Q4_K also with a multiple of 8 rows, which
    /// takes llama.cpp's repacked gemv order rather than vec_dot's.
    static func smallWidthShapes(_ type: GGMLType) -> [(rows: Int, columns: Int)] {
        switch type {
        case .q4_K: return [(13, 768), (24, 1280)]
        case .q2_K, .q3_K, .q5_K, .q6_K: return [(13, 768)]
        default: return [(11, 224)]
        }
    }

    @Test(arguments: int8Types)
    func everyWidthFrom1To17GivesEachRowItsSingleRowBits(type: GGMLType) {
        let widest = 17
        for (rows, columns) in Self.smallWidthShapes(type) {
            let test = ProductCase(type, rows: rows, columns: columns, xRows: widest, seed: UInt64(rows * 7 + columns))
            // Reference: each row alone on the Swift path (the single-row order of the contract).
            let original = MatMul.path
            MatMul.setPath(.swift)
            let alone = (0..<widest).map { j in test.product(test.activations(j..<j + 1), xRows: 1) }
            MatMul.setPath(original)
            let batch = test.activations()
            forEachPath { path in
                for width in 1...widest {
                    let y = test.product(batch, xRows: width, splits: [5])
                    for j in 0..<width {
                        let row = Array(y[j * rows..<(j + 1) * rows])
                        #expect(row.map(\.bitPattern) == alone[j].map(\.bitPattern),
                                "\(type) \(rows)x\(columns) on \(path): row \(j) of a \(width)-row product differs from the row alone")
                    }
                }
            }
        }
    }
}
