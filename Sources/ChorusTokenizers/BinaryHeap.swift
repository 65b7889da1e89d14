/// An element of a `BinaryHeap`, ordered by `comesFirst` (the element that should be popped first).
protocol HeapElement {
    static func comesFirst(_ a: Self, _ b: Self) -> Bool
}

/// A minimal binary heap: the work queue of the BPE and SentencePiece merge loops (llama.cpp uses
/// `std::priority_queue`). The pop order for equal keys does not matter because both element types
/// break ties on the symbol position, making the order total.
struct BinaryHeap<Element: HeapElement> {
    private var storage: [Element] = []

    var isEmpty: Bool { storage.isEmpty }

    mutating func removeAll() { storage.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.comesFirst(storage[child], storage[parent]) else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let top = storage[0]
        storage[0] = last
        var parent = 0
        let count = storage.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var best = left
            let right = left + 1
            if right < count, Element.comesFirst(storage[right], storage[left]) { best = right }
            guard Element.comesFirst(storage[best], storage[parent]) else { break }
            storage.swapAt(best, parent)
            parent = best
        }
        return top
    }
}
