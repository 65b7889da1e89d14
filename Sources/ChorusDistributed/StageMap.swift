/// Which blocks each pipeline stage runs: contiguous ranges covering every block, each non-empty.
public struct StageMap: Sendable, Equatable, Codable, CustomStringConvertible {
    public var ranges: [Range<Int>]

    public init(ranges: [Range<Int>]) { self.ranges = ranges }

    /// Blocks dealt out by count (the first stages get one more when they do not divide evenly).
    public static func even(layers: Int, stages: Int) throws -> StageMap {
        try check(layers: layers, stages: stages)
        return StageMap(ranges: (0..<stages).map { s in s * layers / stages..<(s + 1) * layers / stages })
    }

    /// The split minimising the slowest stage's cost: `layerCosts[l]` for block l, plus `firstCost`
    /// (embeddings) on the first stage and `lastCost` (final norm and output head) on the last.
    /// Exact (dynamic programming over split points; ties go to the earliest split).
    public static func balanced(layerCosts: [Double], firstCost: Double, lastCost: Double, stages: Int) throws -> StageMap {
        let n = layerCosts.count
        try check(layers: n, stages: stages)
        var prefix = [0.0]
        for c in layerCosts { prefix.append(prefix.last! + c) }
        func cost(_ a: Int, _ b: Int, stage: Int) -> Double {
            prefix[b] - prefix[a] + (stage == 0 ? firstCost : 0) + (stage == stages - 1 ? lastCost : 0)
        }
        // best[s][i]: least max cost of the first s stages covering blocks 0..<i; cut[s][i]: its last split.
        var best = Array(repeating: Array(repeating: Double.infinity, count: n + 1), count: stages + 1)
        var cut = Array(repeating: Array(repeating: 0, count: n + 1), count: stages + 1)
        best[0][0] = 0
        for s in 1...stages {
            for i in s...(n - (stages - s)) {
                for j in (s - 1)..<i where best[s - 1][j] < .infinity {
                    let value = max(best[s - 1][j], cost(j, i, stage: s - 1))
                    if value < best[s][i] {
                        best[s][i] = value
                        cut[s][i] = j
                    }
                }
            }
        }
        var ranges: [Range<Int>] = []
        var end = n
        for s in stride(from: stages, to: 0, by: -1) {
            let start = cut[s][end]
            ranges.append(start..<end)
            end = start
        }
        return StageMap(ranges: ranges.reversed())
    }

    private static func check(layers: Int, stages: Int) throws {
        guard stages >= 1 else { throw DistributedError.invalidSetup("--pipeline-stages must be at least 1") }
        guard stages <= layers else {
            throw DistributedError.invalidSetup("--pipeline-stages \(stages) is more than the model's \(layers) layers (each stage needs at least one)")
        }
    }

    public var description: String {
        ranges.enumerated().map { "stage \($0.offset): layers \($0.element.lowerBound)..<\($0.element.upperBound) (\($0.element.count))" }
            .joined(separator: ", ")
    }
}

/// Why a distributed run cannot go on, as one line.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    case invalidSetup(String)
    case rankFailed(rank: Int, host: String, message: String)
    case modelDiffers(String)
    case peerStopped(String)

    public var description: String {
        switch self {
        case .invalidSetup(let message): return message
        case .rankFailed(let rank, let host, let message): return "rank \(rank)\(host.isEmpty ? "" : " (\(host))") failed: \(message)"
        case .modelDiffers(let message): return message
        case .peerStopped(let message): return message
        }
    }
}
