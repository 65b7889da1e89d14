import ChorusKernels
import ChorusModels
import ChorusSpeculative

/// Verifying a drafted token tree (a chain is a tree of one branch) against the target's logits of
/// its rows: the one verifier of chains and trees for every front end.
enum Verification {
    /// Greedy (temperature 0): the longest path whose every token is the target's arg-max at its
    /// parent, then the arg-max after it (the bonus token). Since a tree row's logits equal those of
    /// its chain decoded alone (batch invariance), this gives plain greedy decoding's tokens.
    /// Sampling: lossless tree speculative sampling (`TreeSampling`) under the sampler's policy, so
    /// the tokens follow the law of plain sampling.
    ///
    /// - Parameter row: the target's logits of tree node i.
    /// - Returns: accepted nodes (root excluded), then the token after the last of them.
    static func verify(_ draft: DraftTree, row: (Int) -> UnsafeBufferPointer<Float>, sampling: SamplingParameters,
                       random: inout SeededGenerator) -> (accepted: [Int], next: Int) {
        guard sampling.isGreedy else {
            let policy = SamplerPolicy(sampling)
            return TreeSampling.verify(draft, target: { policy.distribution(row($0)) }, random: &random)
        }
        let tree = draft.tree
        var accepted: [Int] = []
        var node = 0
        var next = VectorOps.argmax(row(0))
        while let child = tree.child(of: node, token: next) {
            accepted.append(child)
            node = child
            next = VectorOps.argmax(row(child))
        }
        return (accepted, next)
    }
}

extension TokenTree {
    /// Whether every node's parent is the node before it (a chain, verified as a causal run).
    var isChain: Bool { parents.indices.dropFirst().allSatisfy { parents[$0] == $0 - 1 } }

    /// The verification batch after `committed` tokens: a chain as a causal run (which every pass
    /// takes, across sequences and pipeline stages alike), a tree with its ancestor mask.
    func verificationBatch(committed: Int) -> Batch {
        isChain ? .sequence(tokens, start: committed, logits: .all) : batch(committed: committed)
    }
}
