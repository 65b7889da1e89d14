import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Foundation
import Testing

/// The sparse tree-attention kernel: the sequential mode and the dense masked reference give the
/// same bits (and those of each row's chain decoded alone); the merged (log-sum-exp) mode equals
/// them up to rounding and keeps every row's arg-max. (Its attention differs in the last half-float
/// bits; int8 activation quantisation turns that into logit differences of a few percent by the
/// last layer, which is why merged mode is not the default for speculative decoding.)
@Suite(.serialized) struct TreeAttentionTests {
    /// A 3,2,1 tree (15 nodes) below a root: parents and tokens.
    static let parents = [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9]
    static let tokens = [198, 504, 28, 253, 3575, 282, 198, 4649, 314, 7042, 30, 198, 504, 28, 253, 282]

    func model(_ id: String = "smollm2-135m", context: Int = 512) throws -> Transformer {
        try Transformer(file: GGUFFile(path: try TestModels.path(id)), pool: ThreadPool(threads: 2), contextCapacity: context,
                        maxBatch: 32)
    }

    /// Prefix of `length` committed tokens, then the tree verified in `mode`; logits of every row.
    func treeLogits(_ model: Transformer, mode: TreeAttentionMode, prefix length: Int) throws -> [[Float]] {
        let m = try model.with { $0.treeAttention = mode }
        let cache = m.makeCache(capacity: length + 32)
        let prefix = (0..<length).map { [504, 3575, 282, 4649, 314, 7042, 30, 198][$0 % 8] }
        _ = try m.forward(.sequence(prefix, start: 0, logits: .none), cache: cache)
        var depths = [0]
        for i in 1..<Self.parents.count { depths.append(depths[Self.parents[i]] + 1) }
        let batch = Batch(tokens: Self.tokens, positions: depths.map { length + $0 }, firstSlot: length,
                          visibility: .tree(parents: Self.parents), logitRows: Array(Self.tokens.indices))
        let logits = try m.forward(batch, cache: cache)
        return (0..<logits.rows).map { Array(logits.row($0)) }
    }

    @Test func modesAgree() throws {
        let m = try model()
        let sequential = try treeLogits(m, mode: .sequential, prefix: 40)
        #expect(try treeLogits(m, mode: .denseMasked, prefix: 40) == sequential)
        let merged = try treeLogits(m, mode: .merged, prefix: 40)
        for (a, b) in zip(sequential, merged) {
            let scale = a.map(abs).max()!
            let diff = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(diff <= 0.08 * scale, "merged differs by \(diff) (scale \(scale))")
            #expect(diff > 0, "merged rounds differently from sequential")
            #expect(a.firstIndex(of: a.max()!) == b.firstIndex(of: b.max()!))
        }
    }

    @Test func sequentialRowsEqualTheirChains() throws {
        let m = try model()
        let rows = try treeLogits(m, mode: .sequential, prefix: 40)
        let prefix = (0..<40).map { [504, 3575, 282, 4649, 314, 7042, 30, 198][$0 % 8] }
        for row in [10, 15] {  // depth-3 leaves
            var chain: [Int] = []
            var node = row
            while node >= 0 {
                chain.insert(Self.tokens[node], at: 0)
                node = Self.parents[node]
            }
            let cache = m.makeCache(capacity: 72)
            _ = try m.forward(.sequence(prefix, start: 0, logits: .none), cache: cache)
            var last: [Float] = []
            for (k, token) in chain.enumerated() { last = Array(try m.forward(.sequence([token], start: 40 + k), cache: cache).row(0)) }
            #expect(rows[row] == last, "tree row \(row) differs from its chain")
        }
    }

    /// Attention time of a 16-row tree verification per mode (CHORUS_MEASURE=1; model from
    /// CHORUS_MEASURE_MODEL, default smollm2-135m). Prints figures; checks nothing else.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHORUS_MEASURE"] == "1"))
    func measureModes() throws {
        let id = ProcessInfo.processInfo.environment["CHORUS_MEASURE_MODEL"] ?? "smollm2-135m"
        let m = try model(id, context: 1100)
        for prefix in [64, 512, 1024] {
            var line = "\(id) prefix \(prefix), 16-row tree, attention ms per verification:"
            var best: [TreeAttentionMode: Double] = [:]
            for _ in 0..<15 {
                for mode in [TreeAttentionMode.merged, .sequential, .denseMasked] {
                    // Only the tree pass is timed; the prefix slots hold zeros (timing does not care).
                    let profiler = OperatorProfiler()
                    let profiled = try m.with {
                        $0.profiler = profiler
                        $0.treeAttention = mode
                    }
                    let cache = m.makeCache(capacity: prefix + 32)
                    cache.count = prefix
                    var depths = [0]
                    for i in 1..<Self.parents.count { depths.append(depths[Self.parents[i]] + 1) }
                    _ = try profiled.forward(Batch(tokens: Self.tokens, positions: depths.map { prefix + $0 }, firstSlot: prefix,
                                                   visibility: .tree(parents: Self.parents), logitRows: [0]), cache: cache)
                    let ms = Double(profiler.nanoseconds[.attention] ?? 0) / 1e6
                    best[mode] = min(best[mode] ?? .infinity, ms)
                }
            }
            for mode in [TreeAttentionMode.denseMasked, .sequential, .merged] { line += String(format: " %@ %.2f", "\(mode)", best[mode]!) }
            print(line)
        }
    }
}
