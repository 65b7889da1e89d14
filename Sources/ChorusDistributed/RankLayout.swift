/// Where each rank sits in a run of `stages` pipeline stages of `slices` tensor-parallel ranks each:
/// rank = stage * slices + slice, so a stage's slices are neighbours (on one host with a plain
/// hostfile). Rank 0 (stage 0, slice 0) drives the run and prints the results.
public struct RankLayout: Sendable, Equatable, Codable {
    public var stages: Int
    public var slices: Int

    public init(stages: Int, slices: Int) {
        self.stages = stages
        self.slices = slices
    }

    public var size: Int { stages * slices }
    public func stage(of rank: Int) -> Int { rank / slices }
    public func slice(of rank: Int) -> Int { rank % slices }
    public func rank(stage: Int, slice: Int) -> Int { stage * slices + slice }
}

/// Message tags between ranks.
enum MessageTag {
    static let header = 10
    static let hidden = 11
    static let logits = 12
    static let traceLength = 13
    static let trace = 14
}
