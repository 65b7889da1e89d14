import ChorusModels
import Foundation

/// How many children each node gets at each depth: `[3, 2, 1]` gives the root 3 children, each of
/// them 2, each of those 1 (3 + 6 + 6 = 15 drafted nodes); a chain of K is `[1, 1, ...]` (K ones).
/// Drafters may fill less than the shape allows (fewer matches, repeated candidates).
/// A shape may instead be an explicit template (a Sequoia tree): `branching` is then the most
/// children per depth and drafters fill the template's nodes only.
public struct TreeShape: Sendable, Equatable, CustomStringConvertible {
    public private(set) var branching: [Int]
    /// An explicit topology, or nil for the full tree of `branching`.
    public private(set) var explicitTemplate: TreeTemplate?

    public init(branching: [Int]) throws {
        guard !branching.isEmpty, branching.allSatisfy({ $0 >= 1 }) else {
            throw SpeculativeError.invalidShape("a tree shape needs at least one depth and every branching >= 1, got \(branching)")
        }
        self.branching = branching
    }

    /// A shape filling exactly `template` (at least one drafted node).
    public init(template: TreeTemplate) throws {
        guard template.nodeCount >= 1 else { throw SpeculativeError.invalidShape("a tree template needs at least one drafted node") }
        branching = template.branching
        explicitTemplate = template.isFull ? nil : template.breadthFirst
    }

    /// The nodes drafters fill, children in rank order.
    public var template: TreeTemplate { explicitTemplate ?? TreeTemplate.full(branching) }

    /// A chain of `length` drafted tokens.
    public static func chain(_ length: Int) throws -> TreeShape { try TreeShape(branching: Array(repeating: 1, count: length)) }

    /// Parse "3,2,1".
    public static func parse(_ text: String) throws -> TreeShape {
        if text.hasPrefix("tree:") {
            let parts = text.dropFirst(5).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let parents = parts.compactMap { Int($0) }
            guard parents.count == parts.count, !parents.isEmpty else {
                throw SpeculativeError.invalidShape("tree template \"\(text)\" is not tree: followed by the parents of nodes 1, 2, ...")
            }
            return try TreeShape(template: TreeTemplate(parents: [-1] + parents))
        }
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count else { throw SpeculativeError.invalidShape("tree shape \"\(text)\" is not a comma-separated list of counts") }
        return try TreeShape(branching: numbers)
    }

    public var depth: Int { branching.count }

    /// Drafted nodes of the full shape (root excluded).
    public var nodeCount: Int {
        if let explicitTemplate { return explicitTemplate.nodeCount }
        var level = 1, total = 0
        for b in branching {
            level *= b
            total += level
        }
        return total
    }

    /// "3,2,1" for a full shape, "tree:0,0,1" (parents of nodes 1...) for an explicit template.
    public var description: String {
        if let explicitTemplate { return "tree:" + explicitTemplate.parents.dropFirst().map(String.init).joined(separator: ",") }
        return branching.map(String.init).joined(separator: ",")
    }
}


/// A tree of drafted tokens. Node 0 is the root: the last accepted token, not yet evaluated by the
/// target (its logits give the first new token). Every other node is a drafted token; parents come
/// before their children (`parents[i] < i`), `parents[0] == -1`.
public struct TokenTree: Sendable, Equatable {
    public private(set) var tokens: [Int]
    public private(set) var parents: [Int]
    public private(set) var depths: [Int]

    /// A tree holding only the root.
    public init(root: Int) {
        tokens = [root]
        parents = [-1]
        depths = [0]
    }

    /// Number of nodes, root included (rows of the verification batch).
    public var count: Int { tokens.count }
    /// Drafted nodes (root excluded).
    public var draftedCount: Int { tokens.count - 1 }
    public var maxDepth: Int { depths.max() ?? 0 }

    /// Add a child of `parent` holding `token`; returns its index.
    @discardableResult
    public mutating func add(_ token: Int, parent: Int) -> Int {
        precondition(parent >= 0 && parent < count, "parent \(parent) is not a node")
        tokens.append(token)
        parents.append(parent)
        depths.append(depths[parent] + 1)
        return count - 1
    }

    /// Children of `node`, in insertion order.
    public func children(of node: Int) -> [Int] {
        var result: [Int] = []
        for i in (node + 1)..<count where parents[i] == node { result.append(i) }
        return result
    }

    /// The child of `node` holding `token`, if any.
    public func child(of node: Int, token: Int) -> Int? {
        for i in (node + 1)..<count where parents[i] == node && tokens[i] == token { return i }
        return nil
    }

    /// Nodes from the root's child down to `node` (root excluded).
    public func path(to node: Int) -> [Int] {
        var chain: [Int] = []
        var n = node
        while n > 0 {
            chain.append(n)
            n = parents[n]
        }
        return chain.reversed()
    }

    /// The tree with the shape's topology, every node labelled by `label(parent, childIndex)`
    /// (used for tests and for drafters that only need the topology).
    public static func full(root: Int, shape: TreeShape, label: (Int, Int) -> Int = { _, _ in 0 }) -> TokenTree {
        var tree = TokenTree(root: root)
        let template = shape.template.breadthFirst
        let ranks = template.ranks
        // Breadth-first numbering: template node i becomes tree node i.
        for node in 1..<template.parents.count {
            let parent = template.parents[node]
            tree.add(label(parent, ranks[node] - 1), parent: parent)
        }
        return tree
    }

    /// Keep only the first `limit` nodes (still a tree: parents come first).
    public func prefix(_ limit: Int) -> TokenTree {
        var tree = self
        let n = max(1, min(limit, count))
        tree.tokens.removeSubrange(n...)
        tree.parents.removeSubrange(n...)
        tree.depths.removeSubrange(n...)
        return tree
    }

    /// The verification batch: row i is node i, in KV slot `committed + i`, at position
    /// `committed + depth`; the root is at position `committed` (the first slot after the committed
    /// tokens). Every row sees the committed prefix and its ancestors; logits of every row.
    public func batch(committed: Int) -> Batch {
        // In the batch the root has no parent (it follows the committed prefix directly).
        Batch(tokens: tokens, positions: depths.map { committed + $0 }, firstSlot: committed,
              visibility: .tree(parents: parents), logitRows: Array(0..<count))
    }
}

/// Errors of speculative decoding, each a readable line.
public enum SpeculativeError: Error, CustomStringConvertible, Equatable {
    case vocabularyMismatch(draft: Int, target: Int)
    case invalidShape(String)
    case treeTooLarge(nodes: Int, maxBatch: Int)

    public var description: String {
        switch self {
        case .vocabularyMismatch(let draft, let target):
            return "the draft model's vocabulary (\(draft) tokens) differs from the target's (\(target)): they must share a tokenizer"
        case .invalidShape(let message): return message
        case .treeTooLarge(let nodes, let maxBatch):
            return "a token tree of \(nodes) rows (root included) exceeds the model's batch limit of \(maxBatch)"
        }
    }
}
