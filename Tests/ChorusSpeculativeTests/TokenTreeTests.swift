import ChorusModels
import ChorusSpeculative
import Testing

@Suite struct TokenTreeTests {
    @Test func shapesCountAndParse() throws {
        #expect(try TreeShape(branching: [3, 2, 1]).nodeCount == 15)
        #expect(try TreeShape.chain(4).nodeCount == 4)
        #expect(try TreeShape.parse("3, 2,1") == TreeShape(branching: [3, 2, 1]))
        #expect(throws: SpeculativeError.self) { try TreeShape.parse("3,x") }
        #expect(throws: SpeculativeError.self) { try TreeShape(branching: [2, 0]) }
        #expect(throws: SpeculativeError.self) { try TreeShape(branching: []) }
    }

    @Test func fullTreeTopologyAndBatch() throws {
        let tree = TokenTree.full(root: 7, shape: try TreeShape(branching: [3, 2, 1])) { parent, k in 100 * parent + k }
        #expect(tree.count == 16)
        #expect(tree.draftedCount == 15)
        #expect(tree.maxDepth == 3)
        #expect(tree.children(of: 0) == [1, 2, 3])
        #expect(tree.children(of: 1) == [4, 5])
        #expect(tree.children(of: 4) == [10])
        #expect(tree.depths == [0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3])
        #expect(tree.path(to: 10) == [1, 4, 10])
        #expect(tree.child(of: 1, token: 101) == 5)
        for i in 1..<tree.count { #expect(tree.parents[i] < i) }

        let batch = tree.batch(committed: 20)
        #expect(batch.firstSlot == 20)
        #expect(batch.tokens.first == 7)
        #expect(batch.positions == tree.depths.map { 20 + $0 })
        #expect(batch.visibility == .tree(parents: tree.parents))
        #expect(batch.logitRows == Array(0..<16))
        #expect(batch.visibleRows(of: 10) == [0, 1, 4, 10])
        #expect(tree.prefix(5).count == 5)
    }

    @Test func chainIsALine() throws {
        let tree = TokenTree.full(root: 1, shape: try .chain(4)) { parent, _ in parent + 10 }
        #expect(tree.parents == [-1, 0, 1, 2, 3])
        #expect(tree.tokens == [1, 10, 11, 12, 13])
    }

    @Test func nGramDraftsWhatFollowedEarlierMatches() throws {
        let drafter = NGramDrafter()
        // "5 6 7" occurred before, followed by 8 9 10 11; "6 7" also followed by 20 once.
        let context = [1, 6, 7, 20, 21, 5, 6, 7, 8, 9, 10, 11, 3, 5, 6, 7]
        let chain = try drafter.draft(context: context, shape: .chain(4), limit: 64)
        #expect(chain.tokens == [7, 8, 9, 10, 11])
        let tree = try drafter.draft(context: context, shape: TreeShape(branching: [2, 1, 1, 1]), limit: 64)
        #expect(tree.children(of: 0).map { tree.tokens[$0] } == [8, 20])
        #expect(tree.count == 5 + 4)  // 8 9 10 11 and 20 21 5 6
        let none = try drafter.draft(context: [1, 2, 3], shape: .chain(4), limit: 64)
        #expect(none.count == 1)
        let limited = try drafter.draft(context: context, shape: .chain(4), limit: 3)
        #expect(limited.count == 3)
        // A single-token match is only trusted when minN allows it.
        let unigram = [4, 9, 1, 2, 4]
        #expect(try drafter.draft(context: unigram, shape: .chain(2), limit: 64).count == 1)
        #expect(try NGramDrafter(minN: 1).draft(context: unigram, shape: .chain(2), limit: 64).tokens == [4, 9, 1])
    }
}
