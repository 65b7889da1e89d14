/// Proposes a tree of likely continuations for the target model to verify in one forward pass.
public protocol Drafter: AnyObject {
    /// Draft a tree rooted at `context.last` (the last accepted token, which the target has not yet
    /// evaluated), filling at most `shape` and at most `limit` nodes (root included).
    /// `context` is every token of the sequence so far: prompt, generated tokens, the root last.
    func draft(context: [Int], shape: TreeShape, limit: Int) throws -> TokenTree

    /// Draft for sampling verification: like `draft`, plus for each node the distribution its
    /// children were drawn from (without replacement), nil where they were chosen deterministically.
    /// `policy` is the target's sampling policy, which a model drafter applies to its own logits.
    func draft<R: RandomNumberGenerator>(context: [Int], shape: TreeShape, limit: Int, policy: any TokenPolicy,
                                         random: inout R) throws -> DraftTree

    /// Take in the prompt before decoding starts (`tokens`: every prompt token but the last), so
    /// that its cost counts as prompt processing, as the target's own prefill does, and the first
    /// round drafts at once. Drafters without state do nothing.
    func prefill(_ tokens: [Int]) throws
}

extension Drafter {
    public func prefill(_ tokens: [Int]) throws {}

    /// Deterministic proposals (one-hot q): lossless for any drafter whose tree does not depend on
    /// the verification's randomness.
    public func draft<R: RandomNumberGenerator>(context: [Int], shape: TreeShape, limit: Int, policy: any TokenPolicy,
                                                random: inout R) throws -> DraftTree {
        DraftTree(tree: try draft(context: context, shape: shape, limit: limit))
    }
}

/// The k largest entries of `logits` as ids, best first; ties go to the lower id (as arg-max does).
func topK(_ logits: UnsafeBufferPointer<Float>, _ k: Int) -> [Int] {
    guard k > 0 else { return [] }
    var best: [(id: Int, value: Float)] = []
    best.reserveCapacity(k + 1)
    for (i, v) in logits.enumerated() {
        if best.count == k, v <= best[k - 1].value { continue }
        var j = best.count
        while j > 0 && best[j - 1].value < v { j -= 1 }
        best.insert((i, v), at: j)
        if best.count > k { best.removeLast() }
    }
    return best.map(\.id)
}
