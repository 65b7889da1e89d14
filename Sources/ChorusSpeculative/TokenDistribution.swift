/// A probability distribution over token ids with small support (what remains after top-k, top-p
/// and min-p), most likely first. Probabilities sum to 1.
public struct TokenDistribution: Sendable, Equatable {
    public private(set) var ids: [Int]
    public private(set) var probabilities: [Double]

    /// - Parameter weights: non-negative, not all zero; normalised here.
    public init(ids: [Int], weights: [Double]) {
        precondition(ids.count == weights.count && !ids.isEmpty)
        let total = weights.reduce(0, +)
        precondition(total > 0, "a distribution needs positive mass")
        self.ids = ids
        probabilities = weights.map { $0 / total }
    }

    /// All mass on one token (a deterministic proposal).
    public static func oneHot(_ id: Int) -> TokenDistribution { TokenDistribution(ids: [id], weights: [1]) }

    public func probability(of id: Int) -> Double {
        guard let i = ids.firstIndex(of: id) else { return 0 }
        return probabilities[i]
    }

    /// A draw by inverse CDF with `u` uniform in [0, 1), in the order of `ids` (as the plain sampler draws).
    public func draw(_ u: Double) -> Int {
        var cumulative = 0.0
        for (i, p) in probabilities.enumerated() {
            cumulative += p
            if u < cumulative { return ids[i] }
        }
        // Rounding left u past the total: the last token with mass.
        return ids[probabilities.lastIndex { $0 > 0 } ?? ids.count - 1]
    }

    /// This distribution without `excluded`, renormalised; nil when nothing is left.
    public func excluding(_ excluded: Set<Int>) -> TokenDistribution? {
        var keptIDs: [Int] = [], kept: [Double] = []
        for (id, p) in zip(ids, probabilities) where !excluded.contains(id) && p > 0 {
            keptIDs.append(id)
            kept.append(p)
        }
        return keptIDs.isEmpty ? nil : TokenDistribution(ids: keptIDs, weights: kept)
    }

    /// norm(max(0, self - q)): the residual left for the next candidate after rejecting a draw from q.
    /// Nil when self <= q everywhere (only possible when they are equal, where acceptance was certain).
    public func residual(minus q: TokenDistribution) -> TokenDistribution? {
        var keptIDs: [Int] = [], kept: [Double] = []
        for (id, p) in zip(ids, probabilities) {
            let r = p - q.probability(of: id)
            if r > 0 {
                keptIDs.append(id)
                kept.append(r)
            }
        }
        return keptIDs.isEmpty ? nil : TokenDistribution(ids: keptIDs, weights: kept)
    }
}

/// Turns one row of logits into the distribution a token is drawn from. Chorus implements it with
/// the plain sampler's chain (top-k, top-p, min-p, temperature), so speculative sampling targets
/// exactly the distribution plain sampling draws from.
public protocol TokenPolicy: Sendable {
    func distribution(_ logits: UnsafeBufferPointer<Float>) -> TokenDistribution
}

extension RandomNumberGenerator {
    /// A uniform Double in [0, 1) from the top 53 bits (as Chorus's seeded sampler draws).
    @inline(__always)
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
