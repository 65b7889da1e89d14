import ChorusPlanner
import ChorusSpeculative
import Testing

@Suite struct TreeSearchTests {
    /// Every tree of at most `nodes` drafted nodes with at most `ranks` children per node (children
    /// of ranks 1, 2, ... in order), as parent lists.
    func allTrees(nodes: Int, ranks: Int) -> [[Int]] {
        var result: [[Int]] = [[-1]]
        var frontier: [[Int]] = [[-1]]
        for _ in 0..<nodes {
            var next: [[Int]] = []
            for parents in frontier {
                // Add one node below any node with room (canonical duplicates are fine for a maximum).
                for p in 0..<parents.count where parents.filter({ $0 == p }).count < ranks {
                    next.append(parents + [p])
                }
            }
            result += next
            frontier = next
        }
        return result
    }

    @Test func dynamicProgrammingFindsTheBruteForceOptimum() throws {
        let models: [[[Double]]] = [
            [[0.6, 0.2, 0.1]],
            [[0.5, 0.45, 0.02]],
            [[0.9, 0.05, 0.01], [0.7, 0.1, 0.05], [0.4, 0.3, 0.2]],
            [[0.3, 0.3, 0.3]],
        ]
        for acceptance in models {
            let search = TreeSearch(acceptance: acceptance, maxNodes: 6, maxDepth: 6)
            let trees = allTrees(nodes: 6, ranks: 3).map { try! TreeTemplate(parents: $0) }
            for n in 0...6 {
                let bruteBest = trees.filter { $0.nodeCount <= n }.map { search.value(of: $0) }.max() ?? 0
                let found = search.tree(nodes: n)
                #expect(found.nodeCount <= n)
                #expect(abs(search.expectedAccepted(nodes: n) - bruteBest) < 1e-9, "\(acceptance) n=\(n)")
                #expect(abs(search.value(of: found) - bruteBest) < 1e-9, "\(acceptance) n=\(n): tree \(found.parents)")
            }
        }
    }

    @Test func knownOptima() throws {
        // Only the best candidate is ever right: the best tree is a chain.
        let chain = TreeSearch(acceptance: [[0.8]], maxNodes: 5)
        #expect(chain.tree(nodes: 4) == TreeTemplate.full([1, 1, 1, 1]))
        #expect(abs(chain.expectedAccepted(nodes: 3) - (0.8 + 0.64 + 0.512)) < 1e-12)
        // Two nearly equal candidates: a star of two beats a chain of two (0.95 > 0.75).
        let star = TreeSearch(acceptance: [[0.5, 0.45]], maxNodes: 2)
        #expect(star.tree(nodes: 2) == TreeTemplate.full([2]))
        // A strong first candidate: chain (0.6 + 0.36 = 0.96 > 0.6 + 0.3).
        #expect(TreeSearch(acceptance: [[0.6, 0.3]], maxNodes: 2).tree(nodes: 2) == TreeTemplate.full([1, 1]))
        // Depth-dependent: depth 1 uncertain, depth 2 certain, depth 3 hopeless: two children, one grandchild.
        let depthy = TreeSearch(acceptance: [[0.5, 0.4], [0.99, 0], [0, 0]], maxNodes: 3)
        #expect(depthy.tree(nodes: 3).parents == [-1, 0, 0, 1])
        // Nothing is ever accepted: the root alone.
        #expect(TreeSearch(acceptance: [[0, 0]], maxNodes: 4).tree(nodes: 4).nodeCount == 0)
    }

    @Test func acceptanceProfileReplaysPaths() throws {
        // Paths: rank 1 then miss; rank 2 then rank 1 then miss; miss; rank 1, rank 1 (censored).
        let profile = AcceptanceProfile(drafter: .ngram, maxRank: 3, maxDepth: 4, paths: [[1, 0], [2, 1, 0], [0], [1, 1]])
        let rows = profile.acceptance(minimumSamples: 1)
        #expect(rows[0] == [0.5, 0.25, 0])
        #expect(rows[1] == [2.0 / 3, 0, 0])
        #expect(profile.expectedAccepted(.full([1, 1])) == Double(1 + 0 + 0 + 2) / 4)
        #expect(profile.expectedAccepted(.full([2, 1])) == Double(1 + 2 + 0 + 2) / 4)
        #expect(AcceptanceProfile.path(ranks: [1, 2, 9, 1], maxRank: 4, maxDepth: 8) == [1, 2, 0])
        #expect(AcceptanceProfile.path(ranks: [1, 1, 1], maxRank: 4, maxDepth: 2) == [1, 1])
        // Probe trees: how much of a template a drafter that may fill less actually fills.
        let lookup = AcceptanceProfile(drafter: .ngram, maxRank: 3, maxDepth: 4, paths: [[1], [0]],
                                       probeTrees: [[-1, 0, 1, 2], [-1]])
        #expect(lookup.expectedWidth(.full([1, 1])) == Double(3 + 1) / 2)
        #expect(lookup.expectedWidth(.full([2])) == Double(2 + 1) / 2)
    }

    /// With transcript boundaries, rounds start where the last one ended: a run of hits counts once.
    @Test func acceptanceProfileReplaysRounds() throws {
        // Transcript A, 5 positions: a run of 3 hits from 0 (so 1 and 2 are inside that round), then
        // misses at 4; transcript B, 2 positions: a hit, then a miss.
        let paths: [[Int]] = [[1, 1, 1, 0], [1, 1, 0], [1, 0], [0], [0], [1, 0], [0]]
        let rounds = AcceptanceProfile(drafter: .ngram, maxRank: 1, maxDepth: 4, paths: paths, segments: [5, 2])
        #expect(rounds.roundStarts(.full([1, 1, 1])) == [0, 4, 5])
        #expect(rounds.expectedAccepted(.full([1, 1, 1])) == Double(3 + 0 + 1) / 3)
        // A 1-chain: 0 accepts 1 -> 2 accepts 1 -> 4 misses; B: 5 accepts 1 (-> 7, past the end).
        #expect(rounds.roundStarts(.full([1])) == [0, 2, 4, 5])
        // Without boundaries every position starts a round (the old, optimistic replay).
        let positions = AcceptanceProfile(drafter: .ngram, maxRank: 1, maxDepth: 4, paths: paths)
        #expect(positions.expectedAccepted(.full([1, 1, 1])) == Double(3 + 2 + 1 + 0 + 0 + 1 + 0) / 7)
        // Boundaries that do not add up to the paths are ignored rather than trusted.
        let wrong = AcceptanceProfile(drafter: .ngram, maxRank: 1, maxDepth: 4, paths: paths, segments: [3])
        #expect(wrong.roundStarts(.full([1])) == Array(0..<7))
    }

    @Test func sequoiaShapesRunThroughTreeShape() throws {
        let template = try TreeTemplate(parents: [-1, 0, 0, 1, 1, 3])
        let shape = try TreeShape(template: template)
        #expect(shape.nodeCount == 5 && shape.depth == 3 && shape.branching == [2, 2, 1])
        #expect(try TreeShape.parse(shape.description) == shape)
        let tree = TokenTree.full(root: 9, shape: shape)
        #expect(tree.parents == template.breadthFirst.parents)
        // A full template collapses to its branching.
        #expect(try TreeShape(template: .full([3, 2])) == TreeShape(branching: [3, 2]))
    }
}
