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

    public func serialise() -> [UInt8] {
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
        func pad() { while out.count % alignment != 0 { out.append(0) } }

        put(GGUFFile.magic)
        put(UInt32(3))
        put(UInt64(tensors.count))
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
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += (tensor.bytes.count + alignment - 1) / alignment * alignment
        }
        for (tensor, tensorOffset) in zip(tensors, offsets) {
            put(tensor.name)
            put(UInt32(tensor.dimensions.count))
            for d in tensor.dimensions { put(UInt64(d)) }
            put(tensor.type.rawValue)
            put(UInt64(tensorOffset))
        }
        pad()
        for tensor in tensors {
            out.append(contentsOf: tensor.bytes)
            pad()
        }
        return out
    }
}
