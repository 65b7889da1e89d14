import ChorusGGUF
import ChorusKernels
import Testing

/// The reference dequantisers against the `gguf` package's numpy implementation.
@Test(arguments: [GGMLType.f16, .bf16, .q4_0, .q4_1, .q8_0, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K])
func dequantizeMatchesGGUFPackage(type: GGMLType) throws {
    let fixture: QuantFixture = try Fixtures.load("quant-\(type.name).json")
    #expect(fixture.ggmlType == type.rawValue)
    let raw = fixture.rawBytes
    #expect(raw.count == fixture.blocks * type.bytesPerBlock)
    let count = fixture.blocks * type.blockSize
    let expected = fixture.expected
    #expect(expected.count == count)
    let format = try #require(quantFormat(for: type))
    var out = [Float](repeating: .nan, count: count)
    raw.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { format.dequantize(src.baseAddress!, into: $0.baseAddress!, count: count) } }
    var mismatches = 0
    for i in 0..<count where out[i] != expected[i] {
        // Allowed: one rounding of a differently ordered product, far below any use.
        if abs(out[i] - expected[i]) > 1e-6 * abs(expected[i]) { mismatches += 1 }
    }
    #expect(mismatches == 0, "\(mismatches) of \(count) values differ for \(type)")
}

/// Block geometry against ggml's `type_traits` (sizeof of each block in ggml-common.h).
@Test func blockGeometryMatchesGGML() throws {
    // (type, weights per block, bytes per block) as ggml-common.h's static_asserts define them.
    let ggml: [(GGMLType, Int, Int)] = [
        (.f32, 1, 4), (.f16, 1, 2), (.bf16, 1, 2), (.f64, 1, 8), (.i8, 1, 1), (.i16, 1, 2), (.i32, 1, 4), (.i64, 1, 8),
        (.q4_0, 32, 2 + 16), (.q4_1, 32, 4 + 16), (.q5_0, 32, 2 + 4 + 16), (.q5_1, 32, 4 + 4 + 16),
        (.q8_0, 32, 2 + 32), (.q8_1, 32, 4 + 32),
        (.q2_K, 256, 16 + 64 + 4), (.q3_K, 256, 32 + 64 + 12 + 2), (.q4_K, 256, 4 + 12 + 128),
        (.q5_K, 256, 4 + 12 + 32 + 128), (.q6_K, 256, 128 + 64 + 16 + 2), (.q8_K, 256, 4 + 256 + 32),
        (.iq2_xxs, 256, 2 + 64), (.iq2_xs, 256, 2 + 64 + 8), (.iq3_xxs, 256, 2 + 96), (.iq1_s, 256, 2 + 32 + 16),
        (.iq4_nl, 32, 2 + 16), (.iq3_s, 256, 2 + 64 + 8 + 32 + 4), (.iq2_s, 256, 2 + 64 + 8 + 8),
        (.iq4_xs, 256, 2 + 2 + 4 + 128), (.iq1_m, 256, 32 + 16 + 8), (.tq1_0, 256, 48 + 4 + 2), (.tq2_0, 256, 64 + 2),
        (.mxfp4, 32, 1 + 16),
    ]
    #expect(Set(ggml.map(\.0)) == Set(GGMLType.allCases), "every type is listed once")
    for (type, size, bytes) in ggml {
        #expect(type.blockSize == size, "\(type) block size")
        #expect(type.bytesPerBlock == bytes, "\(type) bytes per block")
    }
    // Cross-check with gguf-py's table. It still lists the pre-2024 Q8_1 (two f32 scales, 40 bytes);
    // ggml's block_q8_1 keeps d and s as halves (36 bytes), which is what GGUF files and ggml use.
    let table: TypeSizesFixture = try Fixtures.load("ggml-type-sizes.json")
    for type in GGMLType.allCases where type != .q8_1 {
        let entry = try #require(table.sizes[String(type.rawValue)], "gguf-py has no \(type)")
        #expect(entry == [type.blockSize, type.bytesPerBlock], "\(type) vs gguf-py")
    }
}
