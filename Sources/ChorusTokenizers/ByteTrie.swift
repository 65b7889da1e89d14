/// A trie of byte strings with a value at each key's end (llama.cpp's `naive_trie`), stored flat: nodes
/// are indices, children a sibling list, the root's children a 256-entry table.
struct ByteTrie: Sendable {
    private var rootChildren = [Int32](repeating: -1, count: 256)
    private var firstChild: [Int32] = [-1]
    private var nextSibling: [Int32] = [-1]
    private var label: [UInt8] = [0]
    private var values: [Int32] = [-1]

    static let root: Int32 = 0

    init() {}

    /// Adds `key` with `value`; an existing key keeps its first value.
    mutating func insert(_ key: ArraySlice<UInt8>, value: Int) {
        var node = Self.root
        for byte in key {
            if let child = child(of: node, byte) {
                node = child
                continue
            }
            let child = Int32(values.count)
            firstChild.append(-1)
            label.append(byte)
            values.append(-1)
            if node == Self.root {
                nextSibling.append(-1)
                rootChildren[Int(byte)] = child
            } else {
                nextSibling.append(firstChild[Int(node)])
                firstChild[Int(node)] = child
            }
            node = child
        }
        if values[Int(node)] < 0 { values[Int(node)] = Int32(value) }
    }

    /// The child of `node` along `byte`, or nil.
    @inline(__always)
    func child(of node: Int32, _ byte: UInt8) -> Int32? {
        if node == Self.root {
            let child = rootChildren[Int(byte)]
            return child >= 0 ? child : nil
        }
        var child = firstChild[Int(node)]
        while child >= 0 {
            if label[Int(child)] == byte { return child }
            child = nextSibling[Int(child)]
        }
        return nil
    }

    /// The value of the key ending at `node`, or nil.
    @inline(__always)
    func value(at node: Int32) -> Int? {
        let value = values[Int(node)]
        return value >= 0 ? Int(value) : nil
    }

    /// Length of the longest key that is a prefix of `bytes[start...]` (0 when none).
    func longestPrefix(of bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var node = Self.root
        var longest = 0
        var position = start
        while position < bytes.count, let child = child(of: node, bytes[position]) {
            node = child
            position += 1
            if values[Int(node)] >= 0 { longest = position - start }
        }
        return longest
    }
}
