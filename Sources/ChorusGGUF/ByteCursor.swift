/// A bounds-checked little-endian reader over a byte region.
///
/// Every read checks the remaining length first and throws `GGUFError.truncated`, so a corrupt
/// count can never make the parser read past the end or allocate more than the file could hold.
struct ByteCursor {
    let base: UnsafeRawPointer
    let size: Int
    private(set) var offset: Int = 0

    init(base: UnsafeRawPointer, size: Int) {
        self.base = base
        self.size = size
    }

    var remaining: Int { size - offset }

    mutating func require(_ count: Int, for what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: count, fileSize: size)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, for: what())
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A count stored as u64, checked to fit in the remaining bytes at `minElementBytes` each.
    mutating func readCount(_ what: @autoclosure () -> String, minElementBytes: Int) throws -> Int {
        let raw = try read(UInt64.self, what())
        let limit = UInt64(remaining / max(1, minElementBytes))
        guard raw <= limit else {
            throw GGUFError.corrupt("\(what()) count \(raw) cannot fit in the \(remaining) bytes left")
        }
        return Int(raw)
    }

    /// A GGUF string: u64 length then UTF-8 bytes (invalid UTF-8 is repaired, not trusted).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount(what(), minElementBytes: 1)
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: length)
        offset += length
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func skip(to newOffset: Int, _ what: @autoclosure () -> String) throws {
        guard newOffset >= offset, newOffset <= size else {
            throw GGUFError.truncated(what: what(), offset: offset, needed: newOffset - offset, fileSize: size)
        }
        offset = newOffset
    }
}
