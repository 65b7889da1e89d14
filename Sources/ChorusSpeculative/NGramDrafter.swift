/// Prompt-lookup drafting: the last k tokens (k = `maxN` down to `minN`) are searched for earlier in the
/// context, latest occurrence first, and what followed each occurrence is proposed. Several matches
/// with different continuations become branches of the tree (up to the shape's branching); longer
/// n-gram matches are inserted first. Free to run, and strong on code and edits that repeat the prompt.
public final class NGramDrafter: Drafter {
    public let maxN: Int
    /// Shortest n-gram trusted: single-token matches are frequent and often wrong, and on a CPU every
    /// rejected row costs most of a decoding step.
    public let minN: Int
    /// Most occurrences looked at per n-gram length.
    public let maxMatches: Int

    public init(maxN: Int = 3, minN: Int = 2, maxMatches: Int = 8) {
        self.maxN = max(1, maxN)
        self.minN = min(max(1, minN), self.maxN)
        self.maxMatches = max(1, maxMatches)
    }

    public func draft(context: [Int], shape: TreeShape, limit: Int) throws -> TokenTree {
        guard let root = context.last else { throw SpeculativeError.invalidShape("drafting needs a context") }
        var tree = TokenTree(root: root)
        let template = shape.template
        var templateNode = [0]  // template node of each tree node
        let count = context.count
        let depth = shape.depth
        for n in stride(from: min(maxN, count - 1), through: minN, by: -1) {
            let suffixStart = count - n
            var found = 0
            // Latest occurrence first; the occurrence must end before the suffix itself.
            var start = suffixStart - 1
            while start >= 0 && found < maxMatches {
                var match = true
                for j in 0..<n where context[start + j] != context[suffixStart + j] {
                    match = false
                    break
                }
                if match {
                    found += 1
                    let from = start + n
                    let continuation = Array(context[from..<min(count, from + depth)])
                    insert(continuation, into: &tree, templateNode: &templateNode, template: template, limit: limit)
                }
                start -= 1
            }
            if tree.count >= limit { break }
        }
        return tree
    }

    /// Follow `tokens` down from the root, adding nodes where the template (and the limit) allow: the
    /// j-th distinct child of a node takes the template's j-th child slot.
    private func insert(_ tokens: [Int], into tree: inout TokenTree, templateNode: inout [Int], template: TreeTemplate,
                        limit: Int) {
        var node = 0
        for token in tokens {
            if let existing = tree.child(of: node, token: token) {
                node = existing
                continue
            }
            let slots = template.children[templateNode[node]]
            let taken = tree.children(of: node).count
            guard tree.count < limit, taken < slots.count else { return }
            node = tree.add(token, parent: node)
            templateNode.append(slots[taken])
        }
    }
}
