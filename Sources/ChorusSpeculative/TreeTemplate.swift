/// The topology a drafter fills: node 0 is the root, every other node is the drafter's j-th best
/// candidate below its parent, where j is the node's place among its siblings (children are listed
/// in rank order). A full `TreeShape` is one template; a Sequoia tree (best tree for a size under a
/// measured acceptance profile) is an arbitrary one.
public struct TreeTemplate: Sendable, Equatable, Hashable {
    /// `parents[i]` of node i; `parents[0] == -1`; parents come before their children.
    public let parents: [Int]
    /// Children of each node in rank order (the first is the drafter's best candidate).
    public let children: [[Int]]
    public let depths: [Int]

    /// - Throws: `SpeculativeError.invalidShape` unless node 0 is the only root and every parent precedes its child.
    public init(parents: [Int]) throws {
        guard parents.first == -1 else {
            throw SpeculativeError.invalidShape("a tree template starts with the root, whose parent is -1; got \(parents.prefix(4))")
        }
        var children = Array(repeating: [Int](), count: parents.count)
        var depths = [0]
        for i in 1..<parents.count {
            let p = parents[i]
            guard p >= 0 && p < i else {
                throw SpeculativeError.invalidShape("tree template node \(i) has parent \(p): every parent must be an earlier node")
            }
            children[p].append(i)
            depths.append(depths[p] + 1)
        }
        self.parents = parents
        self.children = children
        self.depths = depths
    }

    /// Every node gets `branching[d]` children at depth d.
    public static func full(_ branching: [Int]) -> TreeTemplate {
        var parents = [-1]
        var level = [0]
        for b in branching {
            var next: [Int] = []
            for node in level {
                for _ in 0..<b {
                    parents.append(node)
                    next.append(parents.count - 1)
                }
            }
            level = next
        }
        // Parents precede children by construction.
        return try! TreeTemplate(parents: parents)
    }

    /// Drafted nodes (root excluded).
    public var nodeCount: Int { parents.count - 1 }
    public var depth: Int { depths.max() ?? 0 }

    /// Most children of any node at each depth 0..<depth: the smallest `TreeShape` containing this template.
    public var branching: [Int] {
        var result = Array(repeating: 0, count: depth)
        for (node, list) in children.enumerated() where !list.isEmpty {
            result[depths[node]] = max(result[depths[node]], list.count)
        }
        return result
    }

    /// Each node's rank among its siblings (1 = best candidate; 0 for the root).
    public var ranks: [Int] {
        var result = Array(repeating: 0, count: parents.count)
        for list in children { for (j, node) in list.enumerated() { result[node] = j + 1 } }
        return result
    }

    /// The same tree numbered breadth first, siblings in rank order (the canonical form plans store).
    public var breadthFirst: TreeTemplate {
        var order = [0]
        var i = 0
        while i < order.count {
            order.append(contentsOf: children[order[i]])
            i += 1
        }
        var index = Array(repeating: 0, count: parents.count)
        for (new, old) in order.enumerated() { index[old] = new }
        return try! TreeTemplate(parents: order.map { parents[$0] < 0 ? -1 : index[parents[$0]] })
    }

    /// Whether this is the full tree of its own `branching` (then a shape describes it).
    public var isFull: Bool { self.breadthFirst == TreeTemplate.full(branching) }
}
