import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// Token trees beside other sequences in one multi-sequence pass, and token trees cut into
/// micro-batches across pipeline stages: every tree row gets the bits of its tree verified alone,
/// in one process, and every causal run the bits it gets alone.
@Suite(.serialized) struct TreeSegmentTests {
    static let prefixes: [[Int]] = [
        [504, 3575, 282, 4649, 314, 7042, 30, 198],
        [1, 22, 333, 4444, 55, 6, 777, 9, 10, 11, 12],
        [9000, 12, 13, 14, 15],
    ]
    /// A 3,2,1 tree (16 nodes) below one root, and a two-root tree.
    static let bigTree = (parents: [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9],
                          tokens: [198, 504, 28, 253, 3575, 282, 198, 4649, 314, 7042, 30, 198, 504, 28, 253, 282])
    static let twoRoots = (parents: [-1, -1, 0, 1, 1, 2], tokens: [28, 198, 253, 504, 30, 7042])

    func model(part: ModelPart = .whole) throws -> Transformer {
        try Transformer(file: GGUFFile(path: try TestModels.path("smollm2-135m")), pool: ThreadPool(threads: 2),
                        contextCapacity: 64, maxBatch: 32, part: part)
    }

    static func treeBatch(_ tree: (parents: [Int], tokens: [Int]), after prefix: Int) -> Batch {
        var depths: [Int] = []
        for p in tree.parents { depths.append(p < 0 ? 0 : depths[p] + 1) }
        return Batch(tokens: tree.tokens, positions: depths.map { prefix + $0 }, firstSlot: prefix,
                     visibility: .tree(parents: tree.parents), logitRows: Array(tree.tokens.indices))
    }

    func rows(_ logits: Logits, _ range: Range<Int>) -> [[Float]] { range.map { Array(logits.row($0)) } }

    /// Where two sets of logit rows first differ in any bit (nil: identical), in one short line.
    func difference(_ a: [[Float]], _ b: [[Float]]) -> String? {
        guard a.count == b.count else { return "\(a.count) rows against \(b.count)" }
        for (r, (x, y)) in zip(a, b).enumerated() {
            guard x.count == y.count else { return "row \(r): \(x.count) logits against \(y.count)" }
            if let i = x.indices.first(where: { x[$0].bitPattern != y[$0].bitPattern }) {
                let count = x.indices.filter { x[$0].bitPattern != y[$0].bitPattern }.count
                return "row \(r): \(count) logits differ, first id \(i): \(x[i]) against \(y[i])"
            }
        }
        return nil
    }

    /// One pass: sequence 0 verifies the big tree, sequence 1 decodes a causal run of three tokens,
    /// sequence 2 verifies the two-root tree, sequence 3 prefills a prompt; each against itself alone.
    @Test(arguments: [TreeAttentionMode.sequential, .denseMasked, .merged])
    func treesMixedWithCausalRunsMatchEachAlone(mode: TreeAttentionMode) throws {
        let m = try model().with { $0.treeAttention = mode }
        let batches = [
            Self.treeBatch(Self.bigTree, after: Self.prefixes[0].count),
            Batch.sequence([198, 504, 28], start: Self.prefixes[1].count, logits: .all),
            Self.treeBatch(Self.twoRoots, after: Self.prefixes[2].count),
            Batch.sequence([504, 3575, 282, 4649, 314], start: 0, logits: .all),
        ]
        func prepared() throws -> [KVCache] {
            try batches.indices.map { i in
                let cache = m.makeCache(capacity: 64)
                if i < Self.prefixes.count { _ = try m.forward(.sequence(Self.prefixes[i], start: 0, logits: .none), cache: cache) }
                return cache
            }
        }
        let aloneCaches = try prepared()
        let alone = try batches.indices.map { i in rows(try m.forward(batches[i], cache: aloneCaches[i]), 0..<batches[i].logitRows.count) }

        let caches = try prepared()
        let out = try m.forward(segments: zip(batches, caches).map { Segment($0, cache: $1) })
        #expect(out.rows == batches.reduce(0) { $0 + $1.logitRows.count })
        var offset = 0
        for (i, batch) in batches.enumerated() {
            let got = rows(out, offset..<offset + batch.logitRows.count)
            let kind = batch.visibility == .causal ? "causal" : "tree"
            #expect(difference(got, alone[i]) == nil, "sequence \(i) (\(kind)) differs from itself alone")
            offset += batch.logitRows.count
        }
        #expect(caches.map(\.count) == [8, 14, 5, 5], "causal runs commit their rows, trees leave committing to the caller")
    }

    /// The big tree cut into three micro-batches (later ones seeing ancestors in earlier ones, through
    /// the cache) through two pipeline stages equals the tree verified by the whole model in one pass.
    @Test func treeAcrossPipelineStagesMatchesOneProcess() throws {
        let whole = try model()
        let prefix = Self.prefixes[0]
        let cache = whole.makeCache(capacity: 64)
        _ = try whole.forward(.sequence(prefix, start: 0, logits: .none), cache: cache)
        let tree = Self.treeBatch(Self.bigTree, after: prefix.count)
        let expected = rows(try whole.forward(tree, cache: cache), 0..<tree.count)

        let layers = whole.config.layerCount
        let stages = try [0..<12, 12..<layers].map { try model(part: ModelPart(layers: $0)) }
        let caches = stages.map { $0.makeCache(capacity: 64) }
        /// Rows `rows` of `batch` through both stages; the last stage's logits of `wanted`.
        func pipeline(_ batch: Batch, rows: Range<Int>, wanted: [Int]) throws -> [[Float]] {
            _ = try stages[0].forwardStage(batch, rows: rows, cache: caches[0], input: nil, logitRows: [])
            let hidden = Array(UnsafeBufferPointer(start: stages[0].stageOutput, count: rows.count * stages[0].hiddenWidth))
            let logits = try hidden.withUnsafeBufferPointer {
                try stages[1].forwardStage(batch, rows: rows, cache: caches[1], input: $0.baseAddress, logitRows: wanted)
            }
            return self.rows(logits, 0..<wanted.count)
        }
        let prefixBatch = Batch.sequence(prefix, start: 0, logits: .none)
        _ = try pipeline(prefixBatch, rows: 0..<5, wanted: [])
        _ = try pipeline(prefixBatch, rows: 5..<prefix.count, wanted: [])
        #expect(caches.map(\.count) == [prefix.count, prefix.count])
        var got: [[Float]] = []
        for micro in [0..<5, 5..<11, 11..<tree.count] {
            got += try pipeline(tree, rows: micro, wanted: Array(micro))
        }
        #expect(difference(got, expected) == nil, "two pipeline stages differ from one process")
        #expect(caches.map(\.count) == [prefix.count, prefix.count], "a tree leaves committing to the caller")
    }

    @Test func refusesTreesWhoseParentsDoNotPrecedeTheirChildren() throws {
        let m = try model()
        let cache = m.makeCache(capacity: 64)
        let bad = Batch(tokens: [1, 2, 3], positions: [0, 1, 1], firstSlot: 0, visibility: .tree(parents: [-1, 2, 0]),
                        logitRows: [0, 1, 2])
        #expect(throws: ModelError.self) { try m.forward(bad, cache: cache) }
        #expect(throws: ModelError.self) { try m.forward(segments: [Segment(bad, cache: cache)]) }
        #expect(throws: ModelError.self) {
            try m.forwardStage(bad, rows: 0..<3, cache: cache, input: nil, logitRows: [0])
        }
    }
}
