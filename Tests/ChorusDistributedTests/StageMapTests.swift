import Testing
@testable import ChorusDistributed

@Suite struct StageMapTests {
    @Test func evenSplitCoversEveryLayer() throws {
        let map = try StageMap.even(layers: 30, stages: 4)
        #expect(map.ranges == [0..<7, 7..<15, 15..<22, 22..<30])
    }

    @Test func balancedSplitMovesLayersOffTheStageWithTheHead() throws {
        // 12 equal blocks, a head costing 4 blocks: stages of 8 block-costs each.
        let map = try StageMap.balanced(layerCosts: Array(repeating: 1, count: 12), firstCost: 0, lastCost: 4, stages: 2)
        #expect(map.ranges == [0..<8, 8..<12])
    }

    @Test func balancedSplitFollowsUnequalBlocks() throws {
        let map = try StageMap.balanced(layerCosts: [5, 1, 1, 1, 1, 1], firstCost: 0, lastCost: 0, stages: 2)
        #expect(map.ranges == [0..<1, 1..<6])
    }

    @Test func moreStagesThanLayersIsAnError() {
        #expect(throws: DistributedError.self) { try StageMap.even(layers: 2, stages: 3) }
        #expect(throws: DistributedError.self) {
            try StageMap.balanced(layerCosts: [1, 1], firstCost: 0, lastCost: 0, stages: 3)
        }
    }

    @Test func microbatchesAreNearlyEqualAndWithinTheBatchLimit() {
        #expect(PipelineDriver.microbatchRanges(rows: 10, microbatches: 3, maxRows: 64) == [0..<3, 3..<6, 6..<10])
        #expect(PipelineDriver.microbatchRanges(rows: 1, microbatches: 4, maxRows: 64) == [0..<1])
        #expect(PipelineDriver.microbatchRanges(rows: 200, microbatches: 1, maxRows: 64).allSatisfy { $0.count <= 64 })
    }

    @Test func headersRoundTrip() throws {
        let h = StageHeader(op: .forward, rows: 3, firstSlot: 7, microbatch: 1, microbatches: 2, forwardIndex: 5,
                            tokens: [4, 5, 6], logitRows: [2])
        let words = h.encoded
        let decoded = try words.withUnsafeBufferPointer { try StageHeader(decoding: $0) }
        #expect(decoded == h)
        // A token tree's second micro-batch carries the whole tree (positions, parents) and its rows in it;
        // a commit the accepted rows.
        let tree = StageHeader(op: .forward, rows: 2, firstSlot: 9, microbatch: 1, microbatches: 2, forwardIndex: 6,
                               tokens: [1, 2, 3, 4], logitRows: [2, 3], positions: [9, 10, 10, 11], parents: [-1, 0, 0, 2], rowOffset: 2)
        let decodedTree = try tree.encoded.withUnsafeBufferPointer { try StageHeader(decoding: $0) }
        #expect(decodedTree == tree && decodedTree.isTree && decodedTree.parents == [-1, 0, 0, 2])
        let (batch, rows) = decodedTree.microbatchToRun
        #expect(rows == 2..<4 && batch.visibility == .tree(parents: [-1, 0, 0, 2]) && batch.positions == [9, 10, 10, 11])
        let commit = StageHeader.commit(accepted: [2, 3], committed: 9)
        let decodedCommit = try commit.encoded.withUnsafeBufferPointer { try StageHeader(decoding: $0) }
        #expect(decodedCommit.op == .commit && decodedCommit.accepted == [2, 3] && decodedCommit.firstSlot == 9)
        #expect(tree.encoded.count <= StageHeader.capacity(maxRows: 4))
    }
}
