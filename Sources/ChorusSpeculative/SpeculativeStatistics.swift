import Foundation

/// What speculative decoding did, for the statistics line and `--json`.
public struct SpeculativeStatistics: Sendable, Equatable {
    /// Target forward passes over a token tree (one per round).
    public var verifications = 0
    /// Drafted nodes sent to the target (roots excluded).
    public var drafted = 0
    /// Drafted tokens the target agreed with.
    public var accepted = 0
    /// Per depth d (index d-1): rounds whose tree reached depth d, and rounds that accepted a node at depth d.
    public var roundsReachingDepth: [Int] = []
    public var acceptedAtDepth: [Int] = []
    public var draftSeconds = 0.0
    /// The drafter's prompt processing (included in the result's prompt seconds, not in draftSeconds).
    public var draftPromptSeconds = 0.0
    public var verifySeconds = 0.0
    public var generated = 0
    public var generationSeconds = 0.0

    public init() {}

    /// Accepted drafted tokens per verification.
    public var meanAcceptedLength: Double { verifications > 0 ? Double(accepted) / Double(verifications) : 0 }
    /// Tokens produced per verification (accepted drafts plus the target's own token).
    public var tokensPerVerification: Double { verifications > 0 ? Double(generated) / Double(verifications) : 0 }
    public var acceptanceRate: Double { drafted > 0 ? Double(accepted) / Double(drafted) : 0 }
    /// Fraction of rounds reaching depth d that accepted a node at depth d.
    public var acceptanceByDepth: [Double] {
        zip(acceptedAtDepth, roundsReachingDepth).map { $1 > 0 ? Double($0) / Double($1) : 0 }
    }
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(generated) / generationSeconds : 0 }

    /// Counts one round whose tree reached `treeDepth` and accepted `acceptedDepth` nodes.
    public mutating func record(treeDepth: Int, acceptedDepth: Int) {
        while roundsReachingDepth.count < treeDepth {
            roundsReachingDepth.append(0)
            acceptedAtDepth.append(0)
        }
        for d in 0..<treeDepth { roundsReachingDepth[d] += 1 }
        for d in 0..<acceptedDepth { acceptedAtDepth[d] += 1 }
    }

    public var summary: String {
        String(format: "speculative: %d verifications, %d drafted, %d accepted (%.1f%%), %.2f accepted + 1 per verification, by depth [%@], draft %.2fs, verify %.2fs",
               verifications, drafted, accepted, 100 * acceptanceRate, meanAcceptedLength,
               acceptanceByDepth.map { String(format: "%.2f", $0) }.joined(separator: " "), draftSeconds, verifySeconds)
    }
}
