/// Serialises metadata and tensors into GGUF v3 bytes. Used by tests to build valid (and then
/// deliberately damaged) files, and by tools that write small models.
public struct GGUFWriter {
    public struct Tensor {
        public var name: String
        public var dimensions: [Int]
        public var type: GGMLType
        public var bytes: [UInt8]
        public init(name: String, dimensions: [Int], type: GGMLType, bytes: [UInt8]) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
            self.bytes = bytes
        }
    }

    public var metadata: GGUFMetadata
    public var tensors: [Tensor] = []
    public var alignment: Int = GGUFFile.defaultAlignment

    public init(metadata: GGUFMetadata = GGUFMetadata()) {
        self.metadata = metadata
    }

    public mutating func add(_ name: String, dimensions: [Int], type: GGMLType, bytes: [UInt8]) {
        tensors.append(Tensor(name: name, dimensions: dimensions, type: type, bytes: bytes))
    }

    public mutating func add(_ name: String, dimensions: [Int], floats: [Float]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { bytes.append(contentsOf: withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init)) }
        add(name, dimensions: dimensions, type: .f32, bytes: bytes)
    }

    /// Where one tensor goes: its name, shape (ggml order), type and the bytes its data takes.
    public struct TensorLayout: Sendable, Equatable {
        public var name: String
        public var dimensions: [Int]
        public var type: GGMLType
        public var byteCount: Int
        /// A layout whose byte count follows from the shape and type.
        public init(name: String, dimensions: [Int], type: GGMLType) {
            self.init(name: name, dimensions: dimensions, type: type,
                      byteCount: dimensions.reduce(1, *) / type.blockSize * type.bytesPerBlock)
        }
        public init(name: String, dimensions: [Int], type: GGMLType, byteCount: Int) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
            self.byteCount = byteCount
        }
    }

    /// The whole file in memory: `header(for:)`, then each tensor's bytes padded to the alignment.
    public func serialise() -> [UInt8] {
        var out = header(for: tensors.map { TensorLayout(name: $0.name, dimensions: $0.dimensions, type: $0.type, byteCount: $0.bytes.count) })
        for tensor in tensors {
            out.append(contentsOf: tensor.bytes)
            out.append(contentsOf: repeatElement(0, count: padding(after: tensor.bytes.count)))
        }
        return out
    }

    /// Zero bytes that follow `byteCount` bytes of tensor data so the next tensor starts aligned.
    public func padding(after byteCount: Int) -> Int {
        (alignment - byteCount % alignment) % alignment
    }

    /// Everything before the tensor data (magic, version, counts, metadata, tensor infos, padding) for
    /// tensors laid out in `layouts` order, each at the next aligned offset. A file is this header followed,
    /// for each tensor in order, by its `byteCount` bytes and `padding(after:)` zeros: large files are
    /// streamed that way without holding their tensors in memory.
    public func header(for layouts: [TensorLayout]) -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func put(_ s: String) { put(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func put(_ value: GGUFValue) {
            switch value {
            case .uint8(let v): put(v)
            case .int8(let v): put(v)
            case .uint16(let v): put(v)
            case .int16(let v): put(v)
            case .uint32(let v): put(v)
            case .int32(let v): put(v)
            case .uint64(let v): put(v)
            case .int64(let v): put(v)
            case .float32(let v): put(v.bitPattern)
            case .float64(let v): put(v.bitPattern)
            case .bool(let v): put(UInt8(v ? 1 : 0))
            case .string(let s): put(s)
            case .array(let type, let items):
                put(type.rawValue)
                put(UInt64(items.count))
                for item in items { put(item) }
            }
        }

        put(GGUFFile.magic)
        put(UInt32(3))
        put(UInt64(layouts.count))
        var meta = metadata
        if alignment != GGUFFile.defaultAlignment { meta["general.alignment"] = .uint32(UInt32(alignment)) }
        put(UInt64(meta.keys.count))
        for key in meta.keys {
            let value = meta[key]!
            put(key)
            put(value.type.rawValue)
            put(value)
        }
        var offset = 0
        for layout in layouts {
            put(layout.name)
            put(UInt32(layout.dimensions.count))
            for d in layout.dimensions { put(UInt64(d)) }
            put(layout.type.rawValue)
            put(UInt64(offset))
            offset += layout.byteCount + padding(after: layout.byteCount)
        }
        out.append(contentsOf: repeatElement(0, count: padding(after: out.count)))
        return out
    }
}
