/// An insertion-ordered set of byte strings with O(1) lookup from a borrowed byte span.
///
/// Why not `[String: Int]`: Swift `String` equality is Unicode canonical equivalence, so two vocabulary
/// entries that differ only in normalisation ("é" vs "e\u{301}") would collide, while llama.cpp compares
/// bytes. Keys here are raw bytes, and lookups take an `UnsafeBufferPointer` into the text being tokenized,
/// so the hot loops of BPE and SentencePiece never allocate a key.
///
/// Each key's index is its insertion order; a vocabulary inserted in id order therefore maps text to id.
struct ByteStringTable: Sendable {
    /// All keys back to back; key `i` is `storage[starts[i] ..< starts[i + 1]]`.
    private var storage: [UInt8] = []
    private var starts: [Int] = [0]
    /// Open addressing, linear probing; -1 marks an empty slot, otherwise a key index.
    private var slots: [Int32]
    private var mask: Int

    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        storage.reserveCapacity(minimumCapacity * 8)
        starts.reserveCapacity(minimumCapacity + 1)
    }

    /// Number of keys.
    var count: Int { starts.count - 1 }

    /// FNV-1a over the bytes, finished with a multiply-shift mix so linear probing spreads well.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }

    /// The index of `key`, or nil.
    func index(of key: UnsafeBufferPointer<UInt8>) -> Int? {
        var slot = Self.hash(key) & mask
        return storage.withUnsafeBufferPointer { bytes in
            while true {
                let entry = Int(slots[slot])
                if entry < 0 { return nil }
                let start = starts[entry], end = starts[entry + 1]
                if end - start == key.count {
                    var equal = true
                    var i = 0
                    while i < key.count {
                        if bytes[start + i] != key[i] { equal = false; break }
                        i += 1
                    }
                    if equal { return entry }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The index of `key`, or nil.
    func index(of key: [UInt8]) -> Int? {
        key.withUnsafeBufferPointer { index(of: $0) }
    }

    /// Adds `key` unless present; returns its index and whether it was new.
    @discardableResult
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>) -> (index: Int, inserted: Bool) {
        if let existing = index(of: key) { return (existing, false) }
        if (count + 1) * 2 > slots.count { grow() }
        let index = count
        storage.append(contentsOf: key)
        starts.append(storage.count)
        var slot = Self.hash(key) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index)
        return (index, true)
    }

    /// Adds `key` unless present; returns its index and whether it was new.
    @discardableResult
    mutating func insert(_ key: [UInt8]) -> (index: Int, inserted: Bool) {
        key.withUnsafeBufferPointer { insert($0) }
    }

    /// The bytes of key `index`.
    func key(at index: Int) -> ArraySlice<UInt8> {
        storage[starts[index] ..< starts[index + 1]]
    }

    /// Length in bytes of key `index`.
    func keyLength(at index: Int) -> Int {
        starts[index + 1] - starts[index]
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        var newSlots = [Int32](repeating: -1, count: capacity)
        let newMask = capacity - 1
        storage.withUnsafeBufferPointer { bytes in
            for index in 0 ..< count {
                let key = UnsafeBufferPointer(rebasing: bytes[starts[index] ..< starts[index + 1]])
                var slot = Self.hash(key) & newMask
                while newSlots[slot] >= 0 { slot = (slot + 1) & newMask }
                newSlots[slot] = Int32(index)
            }
        }
        slots = newSlots
        mask = newMask
    }
}
