import Chorus
import ChorusSpeculative
import Foundation
import Testing

/// Pearson's chi-square of observed counts against expected probabilities, cells with fewer than 5
/// expected merged into one; returns the statistic and its degrees of freedom.
func chiSquare(_ counts: [[Int]: Int], expected: [[Int]: Double], samples: Int) -> (statistic: Double, df: Int) {
    var statistic = 0.0, cells = 0, smallExpected = 0.0, smallObserved = 0
    for (key, p) in expected {
        let e = p * Double(samples), o = Double(counts[key] ?? 0)
        if e < 5 {
            smallExpected += e
            smallObserved += counts[key] ?? 0
        } else {
            statistic += (o - e) * (o - e) / e
            cells += 1
        }
    }
    // Outcomes the law gives no mass are a failure by themselves.
    let impossible = counts.filter { expected[$0.key] == nil }.values.reduce(0, +)
    if smallExpected > 0 {
        let o = Double(smallObserved + impossible)
        statistic += (o - smallExpected) * (o - smallExpected) / smallExpected
        cells += 1
    } else if impossible > 0 {
        statistic = .infinity
    }
    return (statistic, max(1, cells - 1))
}

/// A bound a correct sampler stays under except with negligible probability: mean + 6 sd.
func chiSquareBound(df: Int) -> Double { Double(df) + 6 * (2 * Double(df)).squareRoot() }

/// Lossless tree speculative sampling on synthetic distributions: sequences generated round by
/// round must have the target's law, whatever the drafts were.
@Suite struct TreeSamplingTests {
    static let vocabulary = 5

    /// A fixed pseudo-random distribution over the vocabulary for a context (its last two tokens).
    static func law(_ context: [Int], salt: UInt64, sharpness: Double) -> TokenDistribution {
        let a = UInt64(context.last ?? 0), b = UInt64(context.count > 1 ? context[context.count - 2] : 7)
        var weights: [Double] = []
        for id in 0..<vocabulary {
            var h = (a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xBF58_476D_1CE4_E5B9) ^ (UInt64(id) &* 0x94D0_49BB_1331_11EB) ^ salt
            h ^= h >> 29
            h = h &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 32
            let u = Double(h % 1000) / 1000
            // Some tokens get no mass, like top-k/min-p cut-offs.
            weights.append(u < 0.2 ? 0 : Foundation.pow(u, sharpness))
        }
        if weights.allSatisfy({ $0 == 0 }) { weights[Int(a) % vocabulary] = 1 }
        let ids = Array(0..<vocabulary).filter { weights[$0] > 0 }
        return TokenDistribution(ids: ids, weights: ids.map { weights[$0] })
    }

    static func target(_ c: [Int]) -> TokenDistribution { law(c, salt: 1, sharpness: 2) }
    static func drafted(_ c: [Int]) -> TokenDistribution { law(c, salt: 2, sharpness: 1) }

    enum Proposals { case sampled, deterministic, targetItself }

    /// Draft a tree of `shape` rooted at context.last.
    static func draft<R: RandomNumberGenerator>(_ context: [Int], shape: [Int], proposals: Proposals,
                                                random: inout R) -> DraftTree {
        var tree = TokenTree(root: context.last!)
        var distributions: [TokenDistribution?] = [nil]
        var level = [0]
        for b in shape {
            var next: [Int] = []
            for node in level {
                let path = context + tree.path(to: node).map { tree.tokens[$0] }
                let children: [Int]
                switch proposals {
                case .sampled:
                    let q = drafted(path)
                    distributions[node] = q
                    children = TreeSampling.drawWithoutReplacement(q, count: b, random: &random)
                case .targetItself:
                    let q = target(path)
                    distributions[node] = q
                    children = TreeSampling.drawWithoutReplacement(q, count: b, random: &random)
                case .deterministic:
                    // The draft's b most likely tokens, as a top-k model drafter or n-gram lookup proposes.
                    let q = drafted(path)
                    children = zip(q.ids, q.probabilities).sorted { $0.1 > $1.1 }.prefix(b).map(\.0)
                }
                for token in children {
                    next.append(tree.add(token, parent: node))
                    distributions.append(nil)
                }
            }
            level = next
        }
        return DraftTree(tree: tree, childDistributions: distributions)
    }

    /// `length` tokens after `start`, round by round.
    static func generate<R: RandomNumberGenerator>(length: Int, shape: [Int], proposals: Proposals,
                                                   random: inout R) -> (tokens: [Int], rounds: Int) {
        var context = [3, 1]
        var out: [Int] = []
        var rounds = 0
        while out.count < length {
            let draft = draft(context, shape: shape, proposals: proposals, random: &random)
            let (accepted, next) = TreeSampling.verify(draft, target: { node in
                target(context + draft.tree.path(to: node).map { draft.tree.tokens[$0] })
            }, random: &random)
            let emitted = accepted.map { draft.tree.tokens[$0] } + [next]
            out += emitted
            context += emitted
            rounds += 1
        }
        return (Array(out.prefix(length)), rounds)
    }

    /// The target's exact law of the first `length` tokens.
    static func exactLaw(length: Int) -> [[Int]: Double] {
        var law: [[Int]: Double] = [[]: 1]
        for _ in 0..<length {
            var next: [[Int]: Double] = [:]
            for (prefix, p) in law {
                let d = target([3, 1] + prefix)
                for (id, q) in zip(d.ids, d.probabilities) { next[prefix + [id], default: 0] += p * q }
            }
            law = next
        }
        return law
    }

    func check(shape: [Int], proposals: Proposals, samples: Int = 60_000, seed: UInt64) -> (Double, Double, Int) {
        var random = SeededGenerator(seed: seed)
        var counts: [[Int]: Int] = [:]
        var rounds = 0
        for _ in 0..<samples {
            let (tokens, r) = Self.generate(length: 3, shape: shape, proposals: proposals, random: &random)
            counts[tokens, default: 0] += 1
            rounds += r
        }
        let (statistic, df) = chiSquare(counts, expected: Self.exactLaw(length: 3), samples: samples)
        return (statistic, chiSquareBound(df: df), rounds)
    }

    @Test func sampledTreesKeepTheTargetLaw() {
        for shape in [[1, 1, 1], [3, 2], [2, 2, 1], [4]] {
            let (statistic, bound, rounds) = check(shape: shape, proposals: .sampled, seed: 11)
            #expect(statistic < bound, "shape \(shape): chi-square \(statistic) >= \(bound)")
            #expect(rounds < 60_000 * 3, "speculation must save rounds")
        }
    }

    @Test func deterministicProposalsKeepTheTargetLaw() {
        for shape in [[1, 1, 1], [3, 1], [2, 2]] {
            let (statistic, bound, _) = check(shape: shape, proposals: .deterministic, seed: 12)
            #expect(statistic < bound, "shape \(shape): chi-square \(statistic) >= \(bound)")
        }
    }

    @Test func draftingFromTheTargetAcceptsEveryFirstCandidate() {
        var random = SeededGenerator(seed: 5)
        let (_, rounds) = Self.generate(length: 3000, shape: [1, 1, 1], proposals: .targetItself, random: &random)
        // q == p: every draft is accepted, 4 tokens per round.
        #expect(rounds == 750)
    }

    /// The test can fail: the draft's own law (what accepting every draft would give) is far off.
    @Test func theDraftLawIsRejected() {
        var random = SeededGenerator(seed: 3)
        var counts: [[Int]: Int] = [:]
        let samples = 60_000
        for _ in 0..<samples {
            var context = [3, 1]
            for _ in 0..<3 { context.append(Self.drafted(context).draw(random.nextUniform())) }
            counts[Array(context.suffix(3)), default: 0] += 1
        }
        let (statistic, df) = chiSquare(counts, expected: Self.exactLaw(length: 3), samples: samples)
        #expect(statistic > 10 * chiSquareBound(df: df))
    }

    @Test func residualAndExclusion() {
        let p = TokenDistribution(ids: [1, 2, 3], weights: [0.5, 0.3, 0.2])
        let q = TokenDistribution(ids: [1, 4], weights: [0.8, 0.2])
        let r = p.residual(minus: q)!
        #expect(r.ids == [2, 3])
        #expect(abs(r.probability(of: 2) - 0.6) < 1e-12)
        #expect(p.excluding([1])!.probabilities.map { ($0 * 10).rounded() } == [6, 4])
        #expect(p.excluding([1, 2, 3]) == nil)
        #expect(p.residual(minus: p) == nil)
        #expect(p.draw(0.49) == 1 && p.draw(0.5) == 2 && p.draw(0.9999) == 3)
    }
}
