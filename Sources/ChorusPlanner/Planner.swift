import ChorusRuntime
import ChorusSpeculative

/// One way to decode, with what the cost model predicts for it (and, once run, what it measured).
public struct Candidate: Sendable, Equatable, Codable {
    public var drafter: DrafterChoice
    /// Nil for plain decoding.
    public var shape: TreeShape?
    /// Where the tree came from: "plain", "sequoia", "chain", "shape".
    public var origin: String
    /// Mean rows per verification (root included).
    public var verificationWidth: Double
    public var expectedAccepted: Double
    public var verifySeconds: Double
    public var draftSeconds: Double
    public var predictedTokensPerSecond: Double
    public var measuredTokensPerSecond: Double?
    /// Compute units (threads) the candidate runs on, when the search spans several unit counts.
    public var threads: Int?
    /// Measured over predicted tokens/s of plain decoding on the same units in the same run: how
    /// much slower (or faster) the machine ran than when it was profiled (other processes' load).
    public var loadFactor: Double?

    /// The prediction scaled by `loadFactor`: the cost model's relative judgement at today's machine speed.
    public var anchoredTokensPerSecond: Double? { loadFactor.map { predictedTokensPerSecond * $0 } }

    /// (anchored - measured) / measured, when both are known.
    public var anchoredPredictionError: Double? {
        guard let anchored = anchoredTokensPerSecond, let measured = measuredTokensPerSecond, measured > 0 else { return nil }
        return (anchored - measured) / measured
    }

    /// The same candidate on `threads` units.
    public func withThreads(_ threads: Int) -> Candidate {
        var c = self
        c.threads = threads
        return c
    }

    /// (measured - predicted) / measured, when measured.
    public var predictionError: Double? {
        measuredTokensPerSecond.map { $0 > 0 ? (predictedTokensPerSecond - $0) / $0 : 0 }
    }

    public var treeDescription: String { shape?.description ?? "-" }

    enum CodingKeys: String, CodingKey {
        case drafter, origin, tree, threads
        case verificationWidth = "verification_width", expectedAccepted = "expected_accepted"
        case verifySeconds = "verify_seconds", draftSeconds = "draft_seconds"
        case predictedTokensPerSecond = "predicted_tokens_per_second", measuredTokensPerSecond = "measured_tokens_per_second"
        case predictionError = "prediction_error", loadFactor = "load_factor"
        case anchoredPredictionError = "anchored_prediction_error"
    }

    public init(drafter: DrafterChoice, shape: TreeShape?, origin: String, verificationWidth: Double, expectedAccepted: Double,
                verifySeconds: Double, draftSeconds: Double) {
        self.drafter = drafter
        self.shape = shape
        self.origin = origin
        self.verificationWidth = verificationWidth
        self.expectedAccepted = expectedAccepted
        self.verifySeconds = verifySeconds
        self.draftSeconds = draftSeconds
        predictedTokensPerSecond = (expectedAccepted + 1) / max(verifySeconds + draftSeconds, 1e-12)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        drafter = try c.decode(DrafterChoice.self, forKey: .drafter)
        shape = try c.decodeIfPresent(ExecutionPlan.Tree.self, forKey: .tree)?.shape()
        origin = try c.decode(String.self, forKey: .origin)
        verificationWidth = try c.decode(Double.self, forKey: .verificationWidth)
        expectedAccepted = try c.decode(Double.self, forKey: .expectedAccepted)
        verifySeconds = try c.decode(Double.self, forKey: .verifySeconds)
        draftSeconds = try c.decode(Double.self, forKey: .draftSeconds)
        predictedTokensPerSecond = try c.decode(Double.self, forKey: .predictedTokensPerSecond)
        measuredTokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .measuredTokensPerSecond)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        loadFactor = try c.decodeIfPresent(Double.self, forKey: .loadFactor)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(drafter, forKey: .drafter)
        try c.encodeIfPresent(shape.map(ExecutionPlan.Tree.init(shape:)), forKey: .tree)
        try c.encode(origin, forKey: .origin)
        try c.encode(verificationWidth, forKey: .verificationWidth)
        try c.encode(expectedAccepted, forKey: .expectedAccepted)
        try c.encode(verifySeconds, forKey: .verifySeconds)
        try c.encode(draftSeconds, forKey: .draftSeconds)
        try c.encode(predictedTokensPerSecond, forKey: .predictedTokensPerSecond)
        try c.encodeIfPresent(measuredTokensPerSecond, forKey: .measuredTokensPerSecond)
        try c.encodeIfPresent(predictionError, forKey: .predictionError)
        try c.encodeIfPresent(threads, forKey: .threads)
        try c.encodeIfPresent(loadFactor, forKey: .loadFactor)
        try c.encodeIfPresent(anchoredPredictionError, forKey: .anchoredPredictionError)
    }
}

/// The joint search: for every drafter, Sequoia's best tree of each size (plus chains and a few
/// classic shapes), each scored by predicted tokens/s = E[accepted + 1] / (T_verify + T_draft)
/// from the cost model; plain decoding (1 / T(1)) is always a candidate.
public struct Planner: Sendable {
    /// A drafter's measured acceptance and, for a draft model, its forward cost.
    public struct DrafterInput: Sendable {
        public var acceptance: AcceptanceProfile
        public var cost: ForwardCost?
        public init(acceptance: AcceptanceProfile, cost: ForwardCost?) {
            self.acceptance = acceptance
            self.cost = cost
        }
    }

    public var profile: HardwareProfile
    public var target: ForwardCost
    public var drafters: [DrafterInput]
    /// Widest verification considered (root included).
    public var maxWidth: Int
    public var maxDepth: Int

    public init(profile: HardwareProfile, target: ForwardCost, drafters: [DrafterInput], maxWidth: Int = 16, maxDepth: Int = 8) {
        self.profile = profile
        self.target = target
        self.drafters = drafters
        self.maxWidth = max(1, maxWidth)
        self.maxDepth = max(1, maxDepth)
    }

    /// Plain decoding: one row, one logit row per token.
    public var plain: Candidate {
        Candidate(drafter: .none, shape: nil, origin: "plain", verificationWidth: 1, expectedAccepted: 0,
                  verifySeconds: target.seconds(width: 1, profile: profile), draftSeconds: 0)
    }

    /// Every candidate, best predicted first (plain included).
    public func candidates() -> [Candidate] {
        var all = [plain]
        for input in drafters {
            var seen = Set<TreeTemplate>()
            let search = TreeSearch(acceptance: input.acceptance.acceptance(), maxNodes: maxWidth - 1, maxDepth: maxDepth)
            var trees: [(TreeTemplate, String)] = []
            for n in 1..<maxWidth { trees.append((search.tree(nodes: n), "sequoia")) }
            for k in 1...min(maxDepth, maxWidth - 1) { trees.append((TreeTemplate.full(Array(repeating: 1, count: k)), "chain")) }
            for b in [[2, 1], [2, 1, 1], [2, 1, 1, 1], [3, 1, 1], [2, 2, 1], [3, 2, 1], [4, 1, 1, 1]] {
                trees.append((TreeTemplate.full(b), "shape"))
            }
            for (tree, origin) in trees where tree.nodeCount >= 1 && tree.nodeCount < maxWidth {
                let canonical = tree.breadthFirst
                guard seen.insert(canonical).inserted, let shape = try? TreeShape(template: canonical) else { continue }
                all.append(candidate(input, shape: shape, origin: origin))
            }
        }
        return all.sorted { $0.predictedTokensPerSecond > $1.predictedTokensPerSecond }
    }

    /// Score one drafter and tree.
    public func candidate(_ input: DrafterInput, shape: TreeShape, origin: String) -> Candidate {
        let template = shape.template
        let accepted = input.acceptance.expectedAccepted(template)
        let widths = input.acceptance.widths(template).map { min($0, Double(maxWidth)) }
        let verify = widths.map { target.seconds(width: $0, profile: profile) }.reduce(0, +) / Double(max(1, widths.count))
        let width = widths.reduce(0, +) / Double(max(1, widths.count))
        let draft: Double
        if let cost = input.cost {
            // Catch up on the tokens accepted last round (one logit row), then one forward per level.
            var t = cost.seconds(width: accepted + 1, logitRows: 1, profile: profile)
            for step in Self.draftForwards(template) {
                t += cost.seconds(width: Double(step.rows), logitRows: Double(step.logitRows), profile: profile)
            }
            draft = t
        } else {
            draft = input.acceptance.secondsPerDraft
        }
        return Candidate(drafter: input.acceptance.drafter, shape: shape, origin: origin, verificationWidth: width,
                         expectedAccepted: accepted, verifySeconds: verify, draftSeconds: draft)
    }

    /// The forward passes `ModelDrafter` makes after its catch-up pass to fill `template`: one row
    /// per level while the tree is a chain, then every drafted node past the chain as a tree batch.
    public static func draftForwards(_ template: TreeTemplate) -> [(rows: Int, logitRows: Int)] {
        var steps: [(Int, Int)] = []
        var count = 1, chained = 0
        var level = [0]
        while true {
            let next = level.flatMap { template.children[$0] }
            count += next.count
            let expanding = next.filter { !template.children[$0].isEmpty }
            if expanding.isEmpty { break }
            if next.count == 1 && chained == count - 2 {
                steps.append((1, 1))
                chained += 1
            } else {
                steps.append((count - 1 - chained, expanding.count))
            }
            level = expanding
        }
        return steps
    }
}
