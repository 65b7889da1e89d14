import ChorusKernels
import Foundation

/// Chooses tokens from logits with llama.cpp's sampler chain: repeat penalty, top-k, top-p, min-p,
/// temperature, then a draw from the remaining distribution (or the arg-max when greedy).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    /// The sequence's one stream of random draws (plain sampling and speculative verification alike).
    var random: SeededGenerator

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SeededGenerator(seed: parameters.seed)
    }

    /// A token id with its (possibly penalised) logit.
    public struct Candidate: Sendable, Equatable {
        public var id: Int
        public var logit: Float
        public init(id: Int, logit: Float) {
            self.id = id
            self.logit = logit
        }
    }

    /// Pick the next token given the logits and the tokens so far (for the repeat penalty).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: [Int]) -> Int {
        let p = parameters
        if p.isGreedy && p.repeatPenalty == 1 { return Self.argmax(logits) }
        var candidates = Self.penalised(logits, history: history, penalty: p.repeatPenalty, lastN: p.repeatLastN)
        if p.isGreedy { return candidates.max { $0.logit < $1.logit }!.id }
        Self.filter(&candidates, parameters: p)
        // temperature, softmax, draw
        let maxLogit = candidates[0].logit
        var weights = candidates.map { Double(expf(($0.logit - maxLogit) / p.temperature)) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        let u = random.nextUnit()
        var cumulative = 0.0
        for (i, w) in weights.enumerated() {
            cumulative += w
            if u < cumulative { return candidates[i].id }
        }
        return candidates[candidates.count - 1].id
    }

    /// The candidates after top-k, top-p and min-p (sorted, most likely first), before temperature.
    /// Exposed so tests can check each filter's semantics.
    public static func filter(_ candidates: inout [Candidate], parameters p: SamplingParameters) {
        // top-k (also sorts)
        if p.topK > 0 && p.topK < candidates.count {
            candidates = topK(candidates, p.topK)
        } else {
            candidates.sort { $0.logit > $1.logit }
        }
        // top-p on the untempered distribution
        if p.topP < 1 {
            let probabilities = softmax(candidates)
            var cumulative: Double = 0
            var keep = candidates.count
            for (i, q) in probabilities.enumerated() {
                cumulative += q
                if cumulative >= Double(p.topP) {
                    keep = i + 1
                    break
                }
            }
            candidates.removeSubrange(max(1, keep)...)
        }
        // min-p relative to the most likely token
        if p.minP > 0 {
            let threshold = candidates[0].logit + logf(p.minP)
            let keep = candidates.firstIndex { $0.logit < threshold } ?? candidates.count
            candidates.removeSubrange(max(1, keep)...)
        }
    }

    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int { VectorOps.argmax(logits) }

    static func penalised(_ logits: UnsafeBufferPointer<Float>, history: [Int], penalty: Float, lastN: Int) -> [Candidate] {
        var candidates = logits.enumerated().map { Candidate(id: $0.offset, logit: $0.element) }
        guard penalty != 1, lastN > 0 else { return candidates }
        for id in Set(history.suffix(lastN)) where id >= 0 && id < candidates.count {
            let l = candidates[id].logit
            candidates[id].logit = l > 0 ? l / penalty : l * penalty
        }
        return candidates
    }

    /// The k most likely candidates, sorted: a size-k min-heap over one pass of the vocabulary.
    static func topK(_ candidates: [Candidate], _ k: Int) -> [Candidate] {
        func less(_ a: Candidate, _ b: Candidate) -> Bool { a.logit < b.logit || (a.logit == b.logit && a.id > b.id) }
        var heap = Array(candidates.prefix(k))
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        for c in candidates.dropFirst(k) where less(heap[0], c) {
            heap[0] = c
            siftDown(0)
        }
        return heap.sorted { less($1, $0) }
    }

    static func softmax(_ candidates: [Candidate]) -> [Double] {
        let m = Double(candidates[0].logit)
        let e = candidates.map { exp(Double($0.logit) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}
