import ChorusModels

extension KVCache {
    /// Makes this cache hold the first `slots` entries of `source` (same model shape): the prompt
    /// prefix two sequences share is computed once and copied, not recomputed.
    func copyPrefix(from source: KVCache, slots: Int) {
        precondition(source.layerCount == layerCount && source.kvHeadCount == kvHeadCount && source.headDimension == headDimension)
        precondition(slots <= min(source.count, capacity))
        for layer in 0..<layerCount {
            for head in 0..<kvHeadCount {
                let from = source.offset(layer: layer, head: head, slot: 0)
                let to = offset(layer: layer, head: head, slot: 0)
                (keys + to).update(from: source.keys + from, count: slots * headDimension)
                (values + to).update(from: source.values + from, count: slots * headDimension)
            }
        }
        count = slots
    }
}
