import ChorusModels

extension KVCache {
    /// Makes this cache hold the first `slots` entries of `source` (same model shape): the prompt
    /// prefix two sequences share is computed once and copied, not recomputed.
    func copyPrefix(from source: KVCache, slots: Int) {
        precondition(source.layerCount == layerCount && source.kvHeadCount == kvHeadCount && source.headDimension == headDimension)
        precondition(slots <= min(source.count, capacity))
        for layer in firstLayer..<firstLayer + layerCount {
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

/// The scheduler's slots: the caches not in use and the tokens each still holds, so a new sequence
/// starts from the longest prefix of its prompt already computed. Cached entries have the same bits
/// as recomputing them (batch invariance), so sharing changes nothing but time.
struct PrefixSlots {
    private var free: [KVCache]
    /// Tokens whose keys and values each free cache still holds (slots 0..<count).
    private var cachedTokens: [ObjectIdentifier: [Int]] = [:]

    init(caches: [KVCache]) { free = caches }

    var hasFree: Bool { !free.isEmpty }

    /// Shortest shared beginning worth waiting for another sequence to compute.
    static let minimumSharedWait = 8

    /// Tokens `prompt` shares with the first `committed` of `tokens`, leaving its last token to compute.
    static func common(_ tokens: [Int], committed: Int, _ prompt: [Int]) -> Int {
        var length = 0
        let limit = min(tokens.count, prompt.count - 1, committed)
        while length < limit && tokens[length] == prompt[length] { length += 1 }
        return length
    }

    /// The free cache holding the longest prefix of `prompt`, or, when a running sequence's cache
    /// (its tokens, its cache) holds a longer one, a free cache with that prefix copied in; with the
    /// number of prompt tokens it holds.
    mutating func take(for prompt: [Int], running: [(tokens: [Int], cache: KVCache)]) -> (KVCache, Int) {
        var bestFree = free.count - 1
        var bestFreeLength = 0
        for (i, cache) in free.enumerated() {
            let length = Self.common(cachedTokens[ObjectIdentifier(cache)] ?? [], committed: cache.count, prompt)
            if length > bestFreeLength {
                bestFree = i
                bestFreeLength = length
            }
        }
        var source: KVCache?
        var sourceLength = bestFreeLength
        for other in running {
            let length = Self.common(other.tokens, committed: other.cache.count, prompt)
            if length > sourceLength {
                source = other.cache
                sourceLength = length
            }
        }
        let cache = free.remove(at: bestFree)
        cachedTokens[ObjectIdentifier(cache)] = nil
        if let source {
            cache.copyPrefix(from: source, slots: sourceLength)
        } else {
            cache.trim(to: bestFreeLength)
        }
        return (cache, cache.count)
    }

    /// Returns a cache whose slots 0..<tokens.count hold `tokens`.
    mutating func release(_ cache: KVCache, holding tokens: [Int]) {
        cachedTokens[ObjectIdentifier(cache)] = tokens
        free.append(cache)
    }

    /// Whether `cache` is free and still holds at least `tokens` tokens.
    func holds(_ cache: KVCache, tokens: Int) -> Bool { (cachedTokens[ObjectIdentifier(cache)]?.count ?? 0) >= tokens }

    /// The sequence (among those reading `their` prompts) whose prompt shares the longest beginning
    /// with `prompt`, at least `minimumSharedWait` tokens past the `reused` ones, with that length.
    static func sharedPromptBeingRead<T>(_ prompt: [Int], after reused: Int, among readers: [(T, [Int])]) -> (T, Int)? {
        var best: (T, Int)?
        for (reader, theirs) in readers {
            let length = common(theirs, committed: theirs.count, prompt)
            if length >= reused + minimumSharedWait && length > (best?.1 ?? 0) { best = (reader, length) }
        }
        return best
    }
}
