import ChorusKernels
import ChorusModels
import Foundation

/// What speculative decoding did, for the statistics line and `--json`.
public struct SpeculativeStatistics: Sendable, Equatable {
    /// Target forward passes over a token tree (one per round).
    public var verifications = 0
    /// Drafted nodes sent to the target (roots excluded).
    public var drafted = 0
    /// Drafted tokens the target agreed with.
    public var accepted = 0
    /// Per depth d (index d-1): rounds whose tree reached depth d, and rounds that accepted a node at depth d.
    public var roundsReachingDepth: [Int] = []
    public var acceptedAtDepth: [Int] = []
    public var draftSeconds = 0.0
    /// The drafter's prompt processing (included in the result's prompt seconds, not in draftSeconds).
    public var draftPromptSeconds = 0.0
    public var verifySeconds = 0.0
    public var generated = 0
    public var generationSeconds = 0.0

    public init() {}

    /// Accepted drafted tokens per verification.
    public var meanAcceptedLength: Double { verifications > 0 ? Double(accepted) / Double(verifications) : 0 }
    /// Tokens produced per verification (accepted drafts plus the target's own token).
    public var tokensPerVerification: Double { verifications > 0 ? Double(generated) / Double(verifications) : 0 }
    public var acceptanceRate: Double { drafted > 0 ? Double(accepted) / Double(drafted) : 0 }
    /// Fraction of rounds reaching depth d that accepted a node at depth d.
    public var acceptanceByDepth: [Double] {
        zip(acceptedAtDepth, roundsReachingDepth).map { $1 > 0 ? Double($0) / Double($1) : 0 }
    }
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(generated) / generationSeconds : 0 }

    mutating func record(treeDepth: Int, acceptedDepth: Int) {
        while roundsReachingDepth.count < treeDepth {
            roundsReachingDepth.append(0)
            acceptedAtDepth.append(0)
        }
        for d in 0..<treeDepth { roundsReachingDepth[d] += 1 }
        for d in 0..<acceptedDepth { acceptedAtDepth[d] += 1 }
    }

    public var summary: String {
        String(format: "speculative: %d verifications, %d drafted, %d accepted (%.1f%%), %.2f accepted + 1 per verification, by depth [%@], draft %.2fs, verify %.2fs",
               verifications, drafted, accepted, 100 * acceptanceRate, meanAcceptedLength,
               acceptanceByDepth.map { String(format: "%.2f", $0) }.joined(separator: " "), draftSeconds, verifySeconds)
    }
}

/// Lossless greedy speculative decoding: each round a drafter proposes a token tree rooted at the
/// last accepted token, the target evaluates the whole tree in one forward pass, and the longest
/// path whose every token equals the target's arg-max at its parent is accepted, followed by the
/// target's own arg-max after it (the bonus token). Accepted nodes' keys and values move down to
/// consecutive slots; the rest are forgotten. Since a tree row's logits equal those of its chain
/// decoded alone (batch invariance), the output equals plain greedy decoding token for token.
public final class SpeculativeGenerator {
    public let target: Transformer
    public let drafter: any Drafter
    public let shape: TreeShape

    public init(target: Transformer, drafter: any Drafter, shape: TreeShape) throws {
        guard shape.nodeCount + 1 <= target.maxBatch else {
            throw SpeculativeError.treeTooLarge(nodes: shape.nodeCount + 1, maxBatch: target.maxBatch)
        }
        self.target = target
        self.drafter = drafter
        self.shape = shape
    }

    public enum Stop: Sendable, Equatable { case endOfGeneration, maxTokens, contextFull, stoppedByCaller }

    public struct Result: Sendable {
        public var ids: [Int]
        public var stop: Stop
        public var promptSeconds: Double
        public var statistics: SpeculativeStatistics
    }

    /// Generate greedily after `promptIDs` into `cache` (reset first).
    ///
    /// - Parameters:
    ///   - stopIDs: end-of-generation ids (not emitted).
    ///   - onToken: called with each new id; return false to stop.
    public func generate(promptIDs: [Int], cache: KVCache, maxTokens: Int, stopIDs: Set<Int>,
                         onToken: (Int) -> Bool = { _ in true }) throws -> Result {
        var unused = SystemRandomNumberGenerator()
        return try run(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, stopIDs: stopIDs, policy: nil,
                       random: &unused, onToken: onToken)
    }

    /// Generate by sampling under `policy` after `promptIDs` into `cache` (reset first): each round
    /// is verified by lossless tree speculative sampling (`TreeSampling`), so the tokens have the
    /// law of plain sampling from the target under the same policy.
    public func generate<R: RandomNumberGenerator>(promptIDs: [Int], cache: KVCache, maxTokens: Int, stopIDs: Set<Int>,
                                                   policy: any TokenPolicy, random: inout R,
                                                   onToken: (Int) -> Bool = { _ in true }) throws -> Result {
        try run(promptIDs: promptIDs, cache: cache, maxTokens: maxTokens, stopIDs: stopIDs, policy: policy,
                random: &random, onToken: onToken)
    }

    private func run<R: RandomNumberGenerator>(promptIDs: [Int], cache: KVCache, maxTokens: Int, stopIDs: Set<Int>,
                                               policy: (any TokenPolicy)?, random: inout R,
                                               onToken: (Int) -> Bool) throws -> Result {
        precondition(!promptIDs.isEmpty && promptIDs.count <= cache.capacity)
        let clock = ContinuousClock()
        var stats = SpeculativeStatistics()
        // Commit every prompt token but the last: it is the first round's root.
        cache.trim(to: 0)
        let promptStart = clock.now
        if promptIDs.count > 1 {
            _ = try target.forward(.sequence(Array(promptIDs.dropLast()), start: 0, logits: .none), cache: cache)
        }
        // The drafter's own prompt processing is prompt processing too (a draft model's prefill).
        let draftPromptStart = clock.now
        try drafter.prefill(Array(promptIDs.dropLast()))
        stats.draftPromptSeconds = seconds(clock.now - draftPromptStart)
        let promptSeconds = seconds(clock.now - promptStart)

        var context = promptIDs
        var ids: [Int] = []
        var stop = Stop.maxTokens
        let start = clock.now
        generation: while ids.count < maxTokens {
            let committed = cache.count  // == context.count - 1
            let room = cache.capacity - committed
            if room <= 0 {
                stop = .contextFull
                break
            }
            let limit = min(room, target.maxBatch)
            let t0 = clock.now
            var draft: DraftTree
            if let policy {
                draft = try drafter.draft(context: context, shape: shape, limit: limit, policy: policy, random: &random)
            } else {
                draft = DraftTree(tree: try drafter.draft(context: context, shape: shape, limit: limit))
            }
            if draft.tree.count > limit { draft = draft.prefix(limit) }
            let tree = draft.tree
            let t1 = clock.now
            let logits = try target.forward(tree.batch(committed: committed), cache: cache)
            var accepted: [Int] = []
            var next: Int
            if let policy {
                (accepted, next) = TreeSampling.verify(draft, target: { policy.distribution(logits.row($0)) }, random: &random)
            } else {
                // Greedy walk from the root.
                var node = 0
                next = VectorOps.argmax(logits.row(0))
                while let child = tree.child(of: node, token: next) {
                    accepted.append(child)
                    node = child
                    next = VectorOps.argmax(logits.row(child))
                }
            }
            // Keep the accepted nodes' entries: node at row r moves from slot committed + r to committed + depth.
            for (d, r) in accepted.enumerated() { cache.move(slot: committed + r, to: committed + d + 1) }
            cache.count = committed + 1 + accepted.count
            let t2 = clock.now
            stats.draftSeconds += seconds(t1 - t0)
            stats.verifySeconds += seconds(t2 - t1)
            stats.verifications += 1
            stats.drafted += tree.draftedCount
            stats.accepted += accepted.count
            stats.record(treeDepth: tree.maxDepth, acceptedDepth: accepted.count)

            // Emit accepted drafts then the bonus, as plain decoding would have, one at a time.
            for token in accepted.map({ tree.tokens[$0] }) + [next] {
                if stopIDs.contains(token) {
                    stop = .endOfGeneration
                    break generation
                }
                ids.append(token)
                context.append(token)
                if !onToken(token) {
                    stop = .stoppedByCaller
                    break generation
                }
                if ids.count == maxTokens { break generation }
                // Plain decoding stops once the cache cannot take the newest token.
                if context.count - 1 >= cache.capacity {
                    stop = .contextFull
                    break generation
                }
            }
        }
        // Keep only slots of the prompt and emitted tokens (drop accepted drafts past a stop).
        cache.trim(to: promptIDs.count + ids.count)
        stats.generated = ids.count
        stats.generationSeconds = seconds(clock.now - start)
        return Result(ids: ids, stop: stop, promptSeconds: promptSeconds, statistics: stats)
    }
}

private func seconds(_ d: Duration) -> Double {
    let (s, attoseconds) = d.components
    return Double(s) + Double(attoseconds) * 1e-18
}
