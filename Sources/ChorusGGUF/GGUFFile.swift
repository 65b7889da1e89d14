/// A parsed GGUF (v2/v3) file: metadata, tensor index, and the memory-mapped tensor data.
///
/// Layout: magic "GGUF", version u32, tensor count u64, metadata count u64, metadata key-values,
/// tensor infos (name, n_dims u32, dims u64[n], type u32, offset u64), padding to `general.alignment`
/// (default 32), then tensor data. Every count, size and offset is validated against the file size.
public final class GGUFFile: @unchecked Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4

    public let path: String
    public let version: UInt32
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset where tensor data begins.
    public let dataOffset: Int
    public let mapping: MappedFile
    private let index: [String: Int]

    public convenience init(path: String) throws {
        try self.init(mapping: MappedFile(path: path))
    }

    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        self.path = mapping.path
        var cursor = ByteCursor(base: mapping.base, size: mapping.size)
        guard mapping.size >= 4, try cursor.read(UInt32.self, "magic") == Self.magic else {
            throw GGUFError.notGGUF(path: mapping.path)
        }
        version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        // Each tensor info takes at least 8 (name) + 4 + 4 + 8 bytes; each key-value at least 8 + 4 + 1.
        let tensorCount = try cursor.readCount("tensor", minElementBytes: 24)
        let metadataCount = try cursor.readCount("metadata key-value", minElementBytes: 13)

        var metadata = GGUFMetadata()
        for _ in 0..<metadataCount {
            let key = try cursor.readString("metadata key")
            let rawType = try cursor.read(UInt32.self, "type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else { throw GGUFError.unknownValueType(rawType, key: key) }
            guard metadata[key] == nil else { throw GGUFError.corrupt("duplicate metadata key '\(key)'") }
            metadata[key] = try cursor.readValue(of: type, key: key)
        }
        self.metadata = metadata

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw GGUFError.corrupt("general.alignment must be a power of two")
            }
            alignment = a
        }
        self.alignment = alignment

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var index: [String: Int] = [:]
        for _ in 0..<tensorCount {
            let name = try cursor.readString("tensor name")
            let dimensionCount = Int(try cursor.read(UInt32.self, "dimension count of '\(name)'"))
            guard (1...Self.maxDimensions).contains(dimensionCount) else {
                throw GGUFError.corrupt("tensor '\(name)' has \(dimensionCount) dimensions (1 to \(Self.maxDimensions) allowed)")
            }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<dimensionCount {
                let raw = try cursor.read(UInt64.self, "dimensions of '\(name)'")
                guard raw <= UInt64(Int32.max) else { throw GGUFError.corrupt("tensor '\(name)' has dimension \(raw)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
                guard !overflow, product <= mapping.size * 8 else {
                    throw GGUFError.corrupt("tensor '\(name)' is larger than the file")
                }
                elements = product
                dimensions.append(Int(raw))
            }
            let rawType = try cursor.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else { throw GGUFError.unknownTensorType(rawType, tensor: name) }
            guard dimensions[0] % type.blockSize == 0 else {
                throw GGUFError.corrupt("tensor '\(name)' row of \(dimensions[0]) is not a whole number of \(type) blocks")
            }
            let offset = try cursor.read(UInt64.self, "offset of '\(name)'")
            guard offset <= UInt64(mapping.size) else {
                throw GGUFError.truncated(what: "tensor '\(name)'", offset: Int(clamping: offset), needed: 0, fileSize: mapping.size)
            }
            guard Int(offset) % alignment == 0 else {
                throw GGUFError.corrupt("tensor '\(name)' has offset \(offset), not aligned to \(alignment)")
            }
            guard index[name] == nil else { throw GGUFError.corrupt("duplicate tensor '\(name)'") }
            index[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(offset)))
        }

        let dataOffset = (cursor.offset + alignment - 1) / alignment * alignment
        guard tensorCount == 0 || dataOffset <= mapping.size else {
            throw GGUFError.truncated(what: "tensor data", offset: cursor.offset, needed: dataOffset - cursor.offset, fileSize: mapping.size)
        }
        for tensor in tensors {
            let end = dataOffset + tensor.offset + tensor.byteCount
            guard end <= mapping.size else {
                throw GGUFError.truncated(what: "tensor '\(tensor.name)'", offset: dataOffset + tensor.offset, needed: tensor.byteCount, fileSize: mapping.size)
            }
        }
        self.dataOffset = dataOffset
        self.tensors = tensors
        self.index = index
    }

    public var architecture: String? { metadata["general.architecture"]?.stringValue }

    public func info(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's bytes, in place in the mapping.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawPointer {
        mapping.base + dataOffset + tensor.offset
    }

    public func tensor(_ name: String) throws -> (info: GGUFTensorInfo, data: UnsafeRawPointer) {
        guard let info = info(name) else { throw GGUFError.missingTensor(name) }
        return (info, data(for: info))
    }
}
