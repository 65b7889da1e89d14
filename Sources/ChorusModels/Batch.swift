/// Tokens evaluated together in one forward pass.
///
/// Row i carries `tokens[i]` at `positions[i]` and is written to KV slot `firstSlot + i`. Every row
/// sees the committed slots `0..<firstSlot`; within the batch it sees either the rows before it and
/// itself (`causal`: prefill, plain decoding, a chain of drafts) or its ancestors and itself
/// (`tree`: token-tree verification; `parents[i]` is the row of i's parent, -1 for a child of the
/// committed prefix).
public struct Batch: Sendable {
    public enum Visibility: Sendable, Equatable {
        case causal
        case tree(parents: [Int])
    }

    public var tokens: [Int]
    public var positions: [Int]
    public var firstSlot: Int
    public var visibility: Visibility
    /// Rows whose logits are computed, in this order.
    public var logitRows: [Int]

    public init(tokens: [Int], positions: [Int], firstSlot: Int, visibility: Visibility = .causal, logitRows: [Int]) {
        self.tokens = tokens
        self.positions = positions
        self.firstSlot = firstSlot
        self.visibility = visibility
        self.logitRows = logitRows
    }

    /// A causal run of tokens continuing a sequence of `start` committed tokens.
    public static func sequence(_ tokens: [Int], start: Int, logits: LogitSelection = .last) -> Batch {
        let rows: [Int]
        switch logits {
        case .last: rows = tokens.isEmpty ? [] : [tokens.count - 1]
        case .all: rows = Array(tokens.indices)
        case .none: rows = []
        }
        return Batch(tokens: tokens, positions: Array(start..<start + tokens.count), firstSlot: start, logitRows: rows)
    }

    public enum LogitSelection: Sendable { case last, all, none }

    public var count: Int { tokens.count }

    /// Rows of the batch that row `i` attends to, in order (ancestors first, itself last).
    public func visibleRows(of i: Int) -> [Int] {
        switch visibility {
        case .causal: return Array(0...i)
        case .tree(let parents):
            var chain: [Int] = []
            var node = i
            while node >= 0 {
                chain.append(node)
                node = parents[node]
            }
            return chain.reversed()
        }
    }
}
