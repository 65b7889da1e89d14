import ChorusSpeculative

/// How often a drafter's candidates are what the target's greedy decoding produces, measured on
/// calibration prompts: for every start position s of the target's greedy output, the ranks of the
/// target's tokens s, s+1, ... among the drafter's candidates along the accepted path.
///
/// Rank 1 is the drafter's best candidate. A path ends with 0 where the target's token was not among
/// the drafter's first `maxRank` candidates (a miss), or without 0 where the data ran out (the
/// output ended, or `maxDepth` was reached): such paths say nothing about the next depth.
/// From the paths come Sequoia's acceptance vector per rank and depth, and the exact mean number
/// of tokens any tree template would have accepted on the calibration set.
public struct AcceptanceProfile: Sendable, Equatable, Codable {
    public var drafter: DrafterChoice
    public var maxRank: Int
    public var maxDepth: Int
    public var paths: [[Int]]
    /// For drafters that may fill less than a template (prompt lookup): per start position, the
    /// parents of the tree drafted with a wide probe template (root = -1, siblings in rank order).
    /// Nil for drafters that always fill the template (a draft model).
    public var probeTrees: [[Int]]?
    /// Mean seconds per draft call when drafting cost does not follow a forward cost curve (prompt lookup).
    public var secondsPerDraft: Double
    /// Start positions per calibration transcript, in the order of `paths`. Decoding starts each
    /// round where the last one ended, so a run of accepted tokens is one round, not one per position:
    /// the expectations replay rounds along each transcript. Nil: every position starts a round
    /// (which overstates drafters whose hits come in long runs, as prompt lookup's do: +25 to +32% on
    /// qwen2.5-coder-1.5b's code prompts).
    public var segments: [Int]?

    public init(drafter: DrafterChoice, maxRank: Int, maxDepth: Int, paths: [[Int]], probeTrees: [[Int]]? = nil,
                secondsPerDraft: Double = 0, segments: [Int]? = nil) {
        self.drafter = drafter
        self.maxRank = maxRank
        self.maxDepth = maxDepth
        self.paths = paths
        self.probeTrees = probeTrees
        self.secondsPerDraft = secondsPerDraft
        self.segments = segments
    }

    enum CodingKeys: String, CodingKey {
        case drafter, paths, segments
        case maxRank = "max_rank", maxDepth = "max_depth", probeTrees = "probe_trees", secondsPerDraft = "seconds_per_draft"
    }

    /// Indices of `paths` where verification rounds start when decoding with `template`: along each
    /// transcript, a round at position s accepts a tokens and emits a bonus, so the next starts at
    /// s + a + 1.
    public func roundStarts(_ template: TreeTemplate) -> [Int] {
        guard let segments, segments.reduce(0, +) == paths.count else { return Array(paths.indices) }
        var starts: [Int] = []
        var offset = 0
        for n in segments {
            var s = 0
            while s < n {
                starts.append(offset + s)
                s += accepted(paths[offset + s], template) + 1
            }
            offset += n
        }
        return starts
    }

    /// The accepted-rank path of a start position from the ranks of the target's tokens that follow
    /// it (rank 0 or above `maxRank`: a miss).
    public static func path(ranks: some Sequence<Int>, maxRank: Int, maxDepth: Int) -> [Int] {
        var path: [Int] = []
        for r in ranks {
            guard path.count < maxDepth else { break }
            if r < 1 || r > maxRank {
                path.append(0)
                break
            }
            path.append(r)
        }
        return path
    }

    /// `acceptance[d][k]`: probability that at depth d + 1 the target's token is the drafter's
    /// (k + 1)-th candidate, given the path down to depth d was accepted. Rows stop at the first
    /// depth with fewer than `minimumSamples` observations.
    public func acceptance(minimumSamples: Int = 20) -> [[Double]] {
        var rows: [[Double]] = []
        for d in 0..<maxDepth {
            var counts = Array(repeating: 0, count: maxRank)
            var observed = 0
            for path in paths where path.count > d {
                observed += 1
                let r = path[d]
                if r >= 1 { counts[r - 1] += 1 }
            }
            if observed < minimumSamples { break }
            rows.append(counts.map { Double($0) / Double(observed) })
        }
        return rows
    }

    /// Mean drafted tokens accepted per verification with `template`, replayed on the calibration paths.
    public func expectedAccepted(_ template: TreeTemplate) -> Double {
        let starts = roundStarts(template)
        guard !starts.isEmpty else { return 0 }
        var total = 0
        for s in starts { total += accepted(paths[s], template) }
        return Double(total) / Double(starts.count)
    }

    func accepted(_ path: [Int], _ template: TreeTemplate) -> Int {
        var node = 0
        var depth = 0
        for r in path {
            let children = template.children[node]
            guard r >= 1, r <= children.count else { break }
            node = children[r - 1]
            depth += 1
        }
        return depth
    }

    /// Mean rows verified with `template` (root included): the template's size, or for drafters that
    /// may fill less, the part of each calibration probe tree inside the template.
    public func expectedWidth(_ template: TreeTemplate) -> Double {
        let w = widths(template)
        guard w.count == paths.count, !paths.isEmpty else { return w.reduce(0, +) / Double(max(1, w.count)) }
        let starts = roundStarts(template)
        return starts.reduce(0) { $0 + w[$1] } / Double(max(1, starts.count))
    }

    /// Rows verified per calibration start (one value, the template's size, when drafts always fill it).
    public func widths(_ template: TreeTemplate) -> [Double] {
        guard let probeTrees else { return [Double(template.nodeCount + 1)] }
        return probeTrees.map { parents in
            guard let probe = try? TreeTemplate(parents: parents) else { return 1 }
            return Double(Self.overlap(probe, template))
        }
    }

    /// Nodes of `a` that sit at the same rank path in `b` (roots included).
    static func overlap(_ a: TreeTemplate, _ b: TreeTemplate) -> Int {
        var count = 1
        var stack = [(0, 0)]
        while let (x, y) = stack.popLast() {
            for (j, child) in a.children[x].enumerated() where j < b.children[y].count {
                count += 1
                stack.append((child, b.children[y][j]))
            }
        }
        return count
    }
}
