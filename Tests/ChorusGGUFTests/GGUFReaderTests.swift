import ChorusGGUF
import Foundation
import Testing

/// Writes bytes to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8], name: String = "t.gguf") throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-gguf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// A small valid file exercising every metadata type, arrays and a few tensors.
func sampleWriter() -> GGUFWriter {
    var metadata = GGUFMetadata()
    metadata["general.architecture"] = .string("llama")
    metadata["u8"] = .uint8(200)
    metadata["i8"] = .int8(-5)
    metadata["u16"] = .uint16(60000)
    metadata["i16"] = .int16(-30000)
    metadata["u32"] = .uint32(4_000_000_000)
    metadata["i32"] = .int32(-2_000_000_000)
    metadata["u64"] = .uint64(1 << 40)
    metadata["i64"] = .int64(-(1 << 40))
    metadata["f32"] = .float32(1.5)
    metadata["f64"] = .float64(-2.25)
    metadata["flag"] = .bool(true)
    metadata["name"] = .string("héllo ✓")
    metadata["tokens"] = .array(.string, [.string("a"), .string("bb"), .string("")])
    metadata["scores"] = .array(.float32, [.float32(0.5), .float32(-1)])
    metadata["empty"] = .array(.int32, [])
    metadata["nested"] = .array(.array, [.array(.uint8, [.uint8(1), .uint8(2)])])
    var writer = GGUFWriter(metadata: metadata)
    writer.add("vector", dimensions: [3], floats: [1, 2, 3])
    writer.add("matrix", dimensions: [32, 2], type: .q8_0, bytes: Array(repeating: 1, count: 68))
    return writer
}

@Suite struct GGUFReaderTests {
    @Test func readsEveryValueTypeAndTensorInfo() throws {
        let file = try GGUFFile(path: try temporaryFile(sampleWriter().serialise()))
        #expect(file.version == 3)
        let m = file.metadata
        #expect(m.keys.first == "general.architecture")
        #expect(try m.int("u8") == 200 && (try m.int("i8")) == -5 && (try m.int("u16")) == 60000)
        #expect(try m.int("i16") == -30000 && (try m.int("u32")) == 4_000_000_000 && (try m.int("i32")) == -2_000_000_000)
        #expect(try m.int("u64") == 1 << 40 && (try m.int("i64")) == -(1 << 40))
        #expect(try m.float("f32") == 1.5 && (try m.float("f64")) == -2.25)
        #expect(try m.bool("flag", default: false))
        #expect(try m.string("name") == "héllo ✓")
        #expect(try m.strings("tokens") == ["a", "bb", ""])
        #expect(try m.floats("scores") == [0.5, -1])
        #expect(try m.ints("empty") == [])
        #expect(m["nested"] == .array(.array, [.array(.uint8, [.uint8(1), .uint8(2)])]))
        #expect(file.architecture == "llama")

        #expect(file.tensors.map(\.name) == ["vector", "matrix"])
        let (vector, data) = try file.tensor("vector")
        #expect(vector.dimensions == [3] && vector.type == .f32 && vector.byteCount == 12)
        #expect((0..<3).map { data.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } == [1, 2, 3])
        let matrix = try #require(file.info("matrix"))
        #expect(matrix.columns == 32 && matrix.rows == 2 && matrix.byteCount == 68)
        #expect((file.dataOffset + matrix.offset) % file.alignment == 0)
        #expect(throws: GGUFError.missingTensor("nope")) { try file.tensor("nope") }
    }

    @Test func typedAccessorsReportMissingAndWrongTypes() throws {
        let file = try GGUFFile(path: try temporaryFile(sampleWriter().serialise()))
        #expect(throws: GGUFError.missingKey("absent")) { try file.metadata.int("absent") }
        #expect(throws: GGUFError.wrongType(key: "name", expected: "an integer")) { try file.metadata.int("name") }
        #expect(throws: GGUFError.wrongType(key: "u8", expected: "a string")) { try file.metadata.string("u8") }
        #expect(try file.metadata.int("absent", default: 7) == 7)
    }

    @Test func honoursACustomAlignment() throws {
        var writer = sampleWriter()
        writer.alignment = 64
        let file = try GGUFFile(path: try temporaryFile(writer.serialise()))
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(try file.tensor("matrix").data.load(as: UInt8.self) == 1)
    }

    @Test func everyTruncationIsAClearErrorNeverACrash() throws {
        let bytes = sampleWriter().serialise()
        let complete = try GGUFFile(path: try temporaryFile(bytes))
        let last = complete.tensors[complete.tensors.count - 1]
        let end = complete.dataOffset + last.offset + last.byteCount
        // Cut at every length before the last tensor's final byte: each must throw a GGUFError.
        for length in 0..<end {
            let path = try temporaryFile(Array(bytes[0..<length]))
            do {
                _ = try GGUFFile(path: path)
                Issue.record("a file cut to \(length) of \(bytes.count) bytes parsed")
            } catch let error as GGUFError {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func rejectsWrongMagicAndVersion() throws {
        var bytes = sampleWriter().serialise()
        bytes[0] = UInt8(ascii: "X")
        let notGGUF = try temporaryFile(bytes)
        #expect(throws: GGUFError.notGGUF(path: notGGUF)) { try GGUFFile(path: notGGUF) }
        bytes = sampleWriter().serialise()
        bytes[4] = 9
        #expect(throws: GGUFError.unsupportedVersion(9)) { try GGUFFile(path: try temporaryFile(bytes)) }
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: FileManager.default.temporaryDirectory.path) }
    }

    @Test func bogusCountsDoNotAllocate() throws {
        // tensor count 2^62: must be rejected from the file size, not attempted.
        var bytes = sampleWriter().serialise()
        for i in 0..<8 { bytes[8 + i] = i == 7 ? 0x40 : 0 }
        #expect(throws: GGUFError.self) { try GGUFFile(path: try temporaryFile(bytes)) }
        // metadata count huge
        bytes = sampleWriter().serialise()
        for i in 0..<8 { bytes[16 + i] = 0xFF }
        #expect(throws: GGUFError.self) { try GGUFFile(path: try temporaryFile(bytes)) }
    }

    @Test func corruptTypesAndShapesAreReported() throws {
        // An unknown tensor type.
        var writer = sampleWriter()
        writer.tensors[0].type = .f32
        var bytes = writer.serialise()
        let typeOffset = try #require(findTensorType(in: bytes, name: "vector"))
        bytes[typeOffset] = 0xEE
        #expect(throws: GGUFError.unknownTensorType(0xEE, tensor: "vector")) { try GGUFFile(path: try temporaryFile(bytes)) }

        // A Q8_0 row that is not a whole number of blocks.
        writer = sampleWriter()
        writer.tensors[1].dimensions = [31, 2]
        #expect(throws: GGUFError.self) { try GGUFFile(path: try temporaryFile(writer.serialise())) }

        // A tensor whose data runs past the end of the file.
        writer = sampleWriter()
        writer.tensors[1].dimensions = [32, 4000]
        #expect(throws: GGUFError.self) { try GGUFFile(path: try temporaryFile(writer.serialise())) }

        // A bool that is neither 0 nor 1, and an unknown metadata value type.
        var metadata = GGUFMetadata()
        metadata["b"] = .bool(true)
        bytes = GGUFWriter(metadata: metadata).serialise()
        // header 24 bytes, key "b" (8 + 1), type u32 at 33, the bool byte at 37
        bytes[37] = 7
        #expect(throws: GGUFError.self) { try GGUFFile(path: try temporaryFile(bytes)) }
        bytes = GGUFWriter(metadata: metadata).serialise()
        bytes[33] = 99
        #expect(throws: GGUFError.unknownValueType(99, key: "b")) { try GGUFFile(path: try temporaryFile(bytes)) }
    }

    /// Offset of the u32 type field of tensor `name` in a serialised file.
    func findTensorType(in bytes: [UInt8], name: String) -> Int? {
        let needle = Array(name.utf8)
        for i in 0..<(bytes.count - needle.count) where Array(bytes[i..<i + needle.count]) == needle {
            let dims = Int(bytes[i + needle.count])
            let after = i + needle.count + 4 + 8 * dims
            if after + 4 <= bytes.count && dims >= 1 && dims <= 4 { return after }
        }
        return nil
    }

    @Test func blockGeometryMatchesGGML() {
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24),
            .q8_0: (32, 34), .q8_1: (32, 36), .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176),
            .q6_K: (256, 210), .q8_K: (256, 292),
        ]
        for (type, (block, bytes)) in expected {
            #expect(type.blockSize == block && type.bytesPerBlock == bytes, "\(type)")
        }
        #expect(GGMLType.q4_K.rowBytes(columns: 512) == 288)
        #expect(GGMLType.q4_K.rowBytes(columns: 100) == nil)
        #expect(GGMLType.q6_K.name == "Q6_K" && GGMLType.iq2_xxs.name == "IQ2_XXS")
    }
}
