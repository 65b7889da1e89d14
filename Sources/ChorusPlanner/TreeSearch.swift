import ChorusSpeculative

/// Sequoia's tree search: from per-rank acceptance probabilities, the token tree of each size that
/// maximises the expected number of accepted drafted tokens, by dynamic programming.
///
/// Model: a node at depth d that is the k-th ranked candidate below its parent is accepted with
/// probability `acceptance[d-1][k-1]` given its parent was accepted (depths past the last row use
/// the last row). A tree's value is the sum over its nodes of the product of those probabilities
/// along the node's path. With F_d(m) the best value of at most m nodes hanging below a node whose
/// children are at depth d, children of ranks 1, 2, ... (contiguous, as top-k drafting gives) take
/// subtree sizes m_1, m_2, ...:  F_d(m) = max Σ_k p[d][k] (1 + F_{d+1}(m_k - 1)),  Σ m_k <= m.
public struct TreeSearch: Sendable {
    public let acceptance: [[Double]]
    public let maxDepth: Int
    public let maxNodes: Int
    /// best[d][m]: F_{d+1}(m); choice[d][k][m]: size given to rank k+1 (0 = stop) with m nodes left for ranks k+1...
    private var best: [[Double]]
    private var choice: [[[Int]]]

    /// - Parameters:
    ///   - acceptance: `acceptance[d][k]`, depth d + 1, rank k + 1; at least one row.
    ///   - maxNodes: largest tree searched (drafted nodes, root excluded).
    ///   - maxDepth: deepest tree allowed.
    public init(acceptance: [[Double]], maxNodes: Int, maxDepth: Int = 16) {
        self.acceptance = acceptance.isEmpty ? [[0]] : acceptance
        self.maxNodes = max(0, maxNodes)
        self.maxDepth = max(1, maxDepth)
        let depths = self.maxDepth, n = self.maxNodes
        let ranks = self.acceptance.map(\.count).max() ?? 1
        var best = Array(repeating: Array(repeating: 0.0, count: n + 1), count: depths + 1)
        var choice = Array(repeating: Array(repeating: Array(repeating: 0, count: n + 1), count: ranks), count: depths)
        for d in stride(from: depths - 1, through: 0, by: -1) {
            let p = self.acceptance[min(d, self.acceptance.count - 1)]
            // h[k][m]: best value of ranks k+1... with at most m nodes; h[ranks] = 0.
            var h = Array(repeating: Array(repeating: 0.0, count: n + 1), count: ranks + 1)
            for k in stride(from: ranks - 1, through: 0, by: -1) {
                let pk = k < p.count ? p[k] : 0
                for m in 0...n {
                    var value = 0.0, size = 0
                    if pk > 0 {
                        for c in stride(from: 1, through: m, by: 1) {
                            let v = pk * (1 + best[d + 1][c - 1]) + h[k + 1][m - c]
                            if v > value + 1e-12 {
                                value = v
                                size = c
                            }
                        }
                    }
                    h[k][m] = value
                    choice[d][k][m] = size
                }
            }
            best[d] = h[0]
        }
        self.best = best
        self.choice = choice
    }

    /// Expected accepted drafted tokens of the best tree with at most `nodes` nodes.
    public func expectedAccepted(nodes: Int) -> Double { best[0][min(max(0, nodes), maxNodes)] }

    /// The best tree with at most `nodes` nodes (breadth-first, siblings in rank order); the root
    /// alone when no node is worth drafting.
    public func tree(nodes: Int) -> TreeTemplate {
        var parents = [-1]
        func build(depth d: Int, budget: Int, parent: Int) {
            guard d < maxDepth else { return }
            var left = budget
            for k in 0..<choice[d].count {
                let size = choice[d][k][left]
                if size == 0 { break }
                parents.append(parent)
                build(depth: d + 1, budget: size - 1, parent: parents.count - 1)
                left -= size
            }
        }
        build(depth: 0, budget: min(max(0, nodes), maxNodes), parent: 0)
        return (try! TreeTemplate(parents: parents)).breadthFirst
    }

    /// Value of any template under this acceptance model (Σ over nodes of the path's product).
    public func value(of template: TreeTemplate) -> Double {
        let ranks = template.ranks
        var reach = Array(repeating: 1.0, count: template.parents.count)
        var total = 0.0
        for node in 1..<template.parents.count {
            let d = template.depths[node] - 1
            let p = acceptance[min(d, acceptance.count - 1)]
            let k = ranks[node] - 1
            reach[node] = reach[template.parents[node]] * (k < p.count ? p[k] : 0)
            total += reach[node]
        }
        return total
    }
}
