import Foundation

/// A fixture written by scripts/make-quant-fixtures.py: raw blocks and the floats the `gguf`
/// package's numpy dequantiser expands them to (as bit patterns, so the comparison is exact).
struct QuantFixture: Decodable {
    let type: String
    let ggmlType: UInt32
    let blocks: Int
    let bytes: String
    let expectedBits: [UInt32]

    var rawBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var it = bytes.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
        while let hi = it.next(), let lo = it.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
        return out
    }

    var expected: [Float] { expectedBits.map(Float.init(bitPattern:)) }
}

/// gguf-py's table of block geometry, by ggml type id.
struct TypeSizesFixture: Decodable {
    let sizes: [String: [Int]]
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func load<T: Decodable>(_ name: String, as: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }
}
