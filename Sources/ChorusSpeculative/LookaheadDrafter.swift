import Foundation

/// Drafting the next chain while the target verifies this one (the draft model on its own core
/// group, the target on another). Each round drafts K + 1 tokens: K to verify and a guess of the
/// target's bonus token; then, on a background thread, the chain that would follow if the target
/// accepts all K and its bonus equals the guess. When that happens the next round starts with its
/// chain ready; otherwise the prefetch is dropped (the draft cache rolls back to the common prefix
/// as usual) and the chain is drafted in the open. Chains only; other shapes are drafted directly.
///
/// The draft model's pool must not be the target's (each pool runs one region at a time): give
/// them one core group each, e.g. one thread each on two cores.
public final class LookaheadDrafter: Drafter, @unchecked Sendable {
    public let inner: ModelDrafter
    /// Rounds that used a prefetched chain, and prefetches dropped.
    public private(set) var hits = 0
    public private(set) var misses = 0
    /// Seconds the main thread waited for an unfinished prefetch.
    public private(set) var waitSeconds = 0.0

    private struct Drafted {
        var tree: TokenTree
        var guess: Int?
    }
    private var pending: (context: [Int], limit: Int, done: DispatchSemaphore)?
    private var prefetched: Drafted?

    public init(_ inner: ModelDrafter) { self.inner = inner }

    deinit { pending?.done.wait() }

    /// Wait for a running prefetch (before using the inner drafter or its model elsewhere).
    public func finish() {
        pending?.done.wait()
        pending = nil
        prefetched = nil
    }

    public func prefill(_ tokens: [Int]) throws {
        finish()
        try inner.prefill(tokens)
    }

    public func draft(context: [Int], shape: TreeShape, limit: Int) throws -> TokenTree {
        var ready: Drafted?
        if let p = pending {
            let start = DispatchTime.now()
            p.done.wait()
            waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            pending = nil
            if p.context == context, p.limit <= limit, let r = prefetched {
                ready = r
                hits += 1
            } else {
                misses += 1
            }
            prefetched = nil
        }
        guard shape.branching.allSatisfy({ $0 == 1 }) else { return try inner.draft(context: context, shape: shape, limit: limit) }
        let drafted = try ready ?? draftWithGuess(context: context, length: shape.depth, limit: limit)
        if let guess = drafted.guess {
            let assumed = context + drafted.tree.tokens.dropFirst() + [guess]
            let done = DispatchSemaphore(value: 0)
            pending = (assumed, limit, done)
            let length = shape.depth
            let thread = Thread { [self] in
                prefetched = try? draftWithGuess(context: assumed, length: length, limit: limit)
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        return drafted.tree
    }

    /// A chain of `length` and the draft's next token after it (nil when the chain came out shorter).
    private func draftWithGuess(context: [Int], length: Int, limit: Int) throws -> Drafted {
        let chain = try inner.draft(context: context, shape: .chain(length + 1), limit: limit + 1)
        guard chain.count == length + 2 else { return Drafted(tree: chain.prefix(limit), guess: nil) }
        return Drafted(tree: chain.prefix(length + 1), guess: chain.tokens[length + 1])
    }
}
