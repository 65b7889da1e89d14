/// Keys and values of every layer for up to `capacity` slots, stored as IEEE half floats (as
/// llama.cpp's default cache: half the memory traffic of float32, and the same rounding).
///
/// Layout `[layer][kvHead][slot][headDimension]`: one head's keys are contiguous across slots, so
/// attention streams them linearly. A slot holds one token; for a single sequence slot == position,
/// while token-tree verification writes candidate tokens into slots past the committed prefix and
/// `keep(slots:)` moves the accepted ones down into place.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    /// Model index of the first layer held (a pipeline stage holds only its own layers).
    public let firstLayer: Int
    public let kvHeadCount: Int
    public let headDimension: Int
    public let capacity: Int
    /// Slots holding committed tokens (0..<count).
    public var count: Int = 0
    public let keys: UnsafeMutablePointer<UInt16>
    public let values: UnsafeMutablePointer<UInt16>

    public init(layers: Int, firstLayer: Int = 0, kvHeads: Int, headDimension: Int, capacity: Int) {
        layerCount = layers
        self.firstLayer = firstLayer
        kvHeadCount = kvHeads
        self.headDimension = headDimension
        self.capacity = capacity
        let n = layers * kvHeads * capacity * headDimension
        keys = .allocate(capacity: max(1, n))
        values = .allocate(capacity: max(1, n))
        keys.initialize(repeating: 0, count: max(1, n))
        values.initialize(repeating: 0, count: max(1, n))
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    public var byteCount: Int { 2 * layerCount * kvHeadCount * capacity * headDimension * 2 }

    /// Offset of (layer, head, slot) in `keys`/`values`; `layer` counts from the model's first layer.
    @inline(__always)
    public func offset(layer: Int, head: Int, slot: Int) -> Int {
        (((layer - firstLayer) * kvHeadCount + head) * capacity + slot) * headDimension
    }

    /// Forget every slot from `count` on.
    public func trim(to count: Int) {
        precondition(count >= 0 && count <= capacity)
        self.count = min(self.count, count)
    }

    /// Copy slot `source` to slot `destination` in every layer and head (keeping an accepted tree
    /// node's entries while discarding its siblings, without recomputation).
    public func move(slot source: Int, to destination: Int) {
        guard source != destination else { return }
        for layer in firstLayer..<firstLayer + layerCount {
            for head in 0..<kvHeadCount {
                let from = offset(layer: layer, head: head, slot: source)
                let to = offset(layer: layer, head: head, slot: destination)
                (keys + to).update(from: keys + from, count: headDimension)
                (values + to).update(from: values + from, count: headDimension)
            }
        }
    }
}
