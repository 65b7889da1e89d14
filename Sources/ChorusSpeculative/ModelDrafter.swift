import ChorusModels

/// Drafting with a smaller model that shares the target's tokenizer. It keeps its own KV cache of
/// the accepted sequence: each round it evaluates the tokens accepted since the last round (the
/// root last, one causal batch), then expands the tree level by level: the top-b tokens of each
/// node become its children, where b is the number of children the shape's template gives it. Levels past the
/// root are evaluated one row at a time while the tree is still a chain, then as tree batches over
/// the drafted nodes past the chain, all of it past the accepted prefix. The chain's entries stay
/// (`cachedTokens` names them) and the next round rolls back to the part the target accepted, so
/// accepted draft tokens are never evaluated twice; the tree batches are trimmed off.
public final class ModelDrafter: Drafter {
    public let model: Transformer
    public let cache: KVCache
    /// Tokens in `cache` slots 0..<cache.count.
    private var cached: [Int] = []
    /// The tokens whose keys and values the draft cache holds (slots 0..<cache.count), for checks.
    public var cachedTokens: [Int] { cached }

    /// - Throws: `SpeculativeError.vocabularyMismatch` when the vocabularies differ.
    public init(model: Transformer, target: ModelConfig, capacity: Int) throws {
        guard model.config.vocabularySize == target.vocabularySize else {
            throw SpeculativeError.vocabularyMismatch(draft: model.config.vocabularySize, target: target.vocabularySize)
        }
        self.model = model
        cache = model.makeCache(capacity: capacity)
    }

    public func prefill(_ tokens: [Int]) throws {
        let common = rollBack(to: tokens, keeping: tokens.count)
        guard common < tokens.count else { return }
        _ = try model.forward(.sequence(Array(tokens[common...]), start: common, logits: .none), cache: cache)
        cached.append(contentsOf: tokens[common...])
    }

    /// Trim the cache to the longest prefix of `tokens` it holds, at most `bound` tokens; returns its length.
    private func rollBack(to tokens: [Int], keeping bound: Int) -> Int {
        var common = 0
        let bound = min(cached.count, cache.count, bound)
        while common < bound && cached[common] == tokens[common] { common += 1 }
        cache.trim(to: common)
        cached.removeSubrange(common...)
        return common
    }

    public func draft(context: [Int], shape: TreeShape, limit: Int) throws -> TokenTree {
        try expand(context: context, shape: shape, limit: limit) { logits, b, _ in topK(logits, b) }
    }

    /// Sampling: each node's children are drawn without replacement from the draft's distribution
    /// under `policy` (the target's sampler chain applied to the draft's logits), which verification
    /// needs to know (`DraftTree.childDistributions`).
    public func draft<R: RandomNumberGenerator>(context: [Int], shape: TreeShape, limit: Int, policy: any TokenPolicy,
                                                random: inout R) throws -> DraftTree {
        var distributions: [Int: TokenDistribution] = [:]
        let tree = try expand(context: context, shape: shape, limit: limit) { logits, b, node in
            let q = (draftPolicy ?? policy).distribution(logits)
            distributions[node] = q
            return TreeSampling.drawWithoutReplacement(q, count: b, random: &random)
        }
        return DraftTree(tree: tree, childDistributions: (0..<tree.count).map { distributions[$0] })
    }

    /// The policy drafting samples under; nil: the target's (the usual choice: q close to p).
    public var draftPolicy: (any TokenPolicy)?

    /// Tree expansion shared by greedy and sampled drafting: `choose(logits, b, node)` gives node's children.
    private func expand(context: [Int], shape: TreeShape, limit: Int,
                        choose: (UnsafeBufferPointer<Float>, Int, Int) -> [Int]) throws -> TokenTree {
        guard let root = context.last else { throw SpeculativeError.invalidShape("drafting needs a context") }
        var tree = TokenTree(root: root)
        // Room in the draft cache: committed context plus the drafted nodes below the root.
        let room = min(limit, cache.capacity - context.count + 1, model.maxBatch + 1)
        guard room > 1 else { return tree }

        // Roll back to the longest cached prefix of the context, then evaluate the rest (root last).
        let common = rollBack(to: context, keeping: context.count - 1)
        let fresh = Array(context[common...])
        var logits = try model.forward(.sequence(fresh, start: common), cache: cache)
        cached.append(contentsOf: fresh)
        let committed = cache.count  // == context.count

        let template = shape.template
        var templateNode = [0]  // template node of each tree node
        var chained = 0  // nodes 1...chained decoded causally into slots committed..<committed + chained
        var level = [0]  // nodes whose logits are in `logits`, row i for level[i]
        while !level.isEmpty {
            var next: [Int] = []
            for (row, node) in level.enumerated() {
                let slots = template.children[templateNode[node]]
                for (j, token) in choose(logits.row(row), slots.count, node).enumerated() {
                    guard tree.count < room else { break }
                    next.append(tree.add(token, parent: node))
                    templateNode.append(slots[j])
                }
            }
            // Only nodes the template gives children need logits.
            let expanding = next.filter { !template.children[templateNode[$0]].isEmpty }
            if expanding.isEmpty || tree.count >= room { break }
            if next.count == 1 && chained == tree.count - 2 {
                // Still a chain: decode the new node causally into the next slot (one row, not the whole chain again).
                logits = try model.forward(.sequence([tree.tokens[next[0]]], start: committed + chained), cache: cache)
                chained += 1
            } else {
                // Evaluate every drafted node past the chained prefix as a tree batch; the chained nodes
                // (and the root) are committed slots, visible to every row.
                let nodes = Array((chained + 1)..<tree.count)
                let parents = nodes.map { tree.parents[$0] <= chained ? -1 : tree.parents[$0] - chained - 1 }
                let batch = Batch(tokens: nodes.map { tree.tokens[$0] },
                                  positions: nodes.map { committed - 1 + tree.depths[$0] },
                                  firstSlot: committed + chained, visibility: .tree(parents: parents),
                                  logitRows: expanding.map { $0 - chained - 1 })
                logits = try model.forward(batch, cache: cache)
            }
            level = expanding
        }
        // Keep the chain's entries (decoded causally, exactly what a later round would compute for
        // them): the next round finds how many were accepted by its common prefix and evaluates only
        // the rest. Tree-batch nodes past the chain are forgotten.
        cache.trim(to: committed + chained)
        if chained > 0 { cached.append(contentsOf: tree.tokens[1...chained]) }
        return tree
    }
}
