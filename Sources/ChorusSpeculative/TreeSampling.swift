/// A drafted tree for sampling verification: besides the tokens, for each node the distribution its
/// children were drawn from (successively, without replacement), or nil when they were chosen
/// deterministically (n-gram matches, top-k): those count as one-hot proposals.
public struct DraftTree: Sendable {
    public var tree: TokenTree
    /// Indexed by node; `childDistributions[u]` is the draft's q at node u.
    public var childDistributions: [TokenDistribution?]

    public init(tree: TokenTree, childDistributions: [TokenDistribution?]? = nil) {
        self.tree = tree
        self.childDistributions = childDistributions ?? Array(repeating: nil, count: tree.count)
        precondition(self.childDistributions.count == tree.count)
    }

    /// Keep only the first `limit` nodes.
    public func prefix(_ limit: Int) -> DraftTree {
        let t = tree.prefix(limit)
        return DraftTree(tree: t, childDistributions: Array(childDistributions.prefix(t.count)))
    }
}

/// Lossless multi-candidate speculative sampling over a token tree (SpecInfer's multi-step
/// speculative sampling, with recursive rejection for candidates drawn without replacement).
///
/// At node u the target's distribution p_u is the running residual r. Its children are tried in
/// the order they were drafted: the i-th was drawn from q_i (the draft's q_u without the earlier
/// siblings, renormalised; a one-hot for deterministic proposals) and is accepted with probability
/// min(1, r(x)/q_i(x)); on rejection r becomes norm(max(0, r - q_i)). Each step keeps the law of
/// the emitted token equal to r's, so the accepted child (or, when all are rejected, a draw from
/// the last residual) is distributed as p_u; the walk continues below an accepted child with
/// p_child. A leaf contributes a fresh draw from its p (the bonus token). Hence every emitted
/// token follows the target's distribution given the tokens before it: the output has the law of
/// plain sampling from the target.
public enum TreeSampling {
    /// Walk `draft` from the root.
    ///
    /// - Parameters:
    ///   - target: the target's distribution at a node (called only for nodes on the walk).
    /// - Returns: accepted nodes (root excluded), then the token drawn after the last of them.
    public static func verify<R: RandomNumberGenerator>(_ draft: DraftTree, target: (Int) -> TokenDistribution,
                                                        random: inout R) -> (accepted: [Int], next: Int) {
        let tree = draft.tree
        var node = 0
        var accepted: [Int] = []
        walk: while true {
            var residual = target(node)
            let q = draft.childDistributions[node]
            var tried = Set<Int>()
            for child in tree.children(of: node) {
                let x = tree.tokens[child]
                // Proposal law of this candidate: q without earlier siblings, or a one-hot.
                let proposal: TokenDistribution
                if let q {
                    guard let remaining = q.excluding(tried), remaining.probability(of: x) > 0 else {
                        preconditionFailure("drafted token \(x) has no mass in its draft distribution")
                    }
                    proposal = remaining
                } else {
                    proposal = .oneHot(x)
                }
                tried.insert(x)
                let ratio = residual.probability(of: x) / proposal.probability(of: x)
                if random.nextUniform() < ratio {
                    accepted.append(child)
                    node = child
                    continue walk
                }
                // Rejected: the target's remaining mass. (Nil only when r == q_i, where ratio was 1.)
                guard let next = residual.residual(minus: proposal) else { break }
                residual = next
            }
            return (accepted, residual.draw(random.nextUniform()))
        }
    }

    /// Draw up to `count` distinct tokens from `q`, each from q without the earlier ones (the law
    /// `verify` assumes for a node with a draft distribution).
    public static func drawWithoutReplacement<R: RandomNumberGenerator>(_ q: TokenDistribution, count: Int,
                                                                       random: inout R) -> [Int] {
        var drawn: [Int] = []
        var remaining: TokenDistribution? = q
        while drawn.count < count, let r = remaining {
            let x = r.draw(random.nextUniform())
            drawn.append(x)
            remaining = r.excluding([x])
        }
        return drawn
    }
}
