import ChorusRuntime
import ChorusSpeculative
import Foundation

/// Who drafts: nobody (plain decoding), prompt lookup, or a draft model. In JSON a single string:
/// `"none"`, `"ngram"`, or the draft model's catalog id or `.gguf` path (what `--draft` takes).
public enum DrafterChoice: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    case none
    case ngram
    case model(String)

    public init(_ text: String) {
        switch text {
        case "none", "": self = .none
        case "ngram": self = .ngram
        default: self = .model(text)
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .ngram: return "ngram"
        case .model(let id): return id
        }
    }

    public init(from decoder: Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Everything `chorus generate --plan` needs to run a model the way `chorus tune` found fastest on
/// this machine: how operators split across units, who drafts, the token tree the drafter fills and
/// how many rows the target verifies at once. Readable JSON a user may edit by hand:
///
/// ```json
/// {"format": "chorus-plan/1", "model": "qwen2.5-coder-1.5b", "threads": 2, "drafter": "qwen2.5-coder-0.5b",
///  "tree": {"branching": [2, 1, 1]}, "verification_width": 7,
///  "partition": {"units": [...], "shares": {"linear": [0.5, 0.5]}}}
/// ```
/// `tree` is either `{"branching": [3, 2, 1]}` (children per depth) or `{"parents": [0, 0, 1]}` (a Sequoia
/// tree: the parent of drafted nodes 1, 2, ...; the root is node 0; siblings in the drafter's rank order).
public struct ExecutionPlan: Sendable, Equatable, Codable {
    public static let format = "chorus-plan/1"

    public struct Tree: Sendable, Equatable, Codable {
        public var branching: [Int]?
        public var parents: [Int]?

        public init(shape: TreeShape) {
            if let template = shape.explicitTemplate {
                parents = Array(template.parents.dropFirst())
            } else {
                branching = shape.branching
            }
        }

        public func shape() throws -> TreeShape {
            switch (branching, parents) {
            case (let b?, nil): return try TreeShape(branching: b)
            case (nil, let p?): return try TreeShape(template: TreeTemplate(parents: [-1] + p))
            default: throw ExecutionPlanError.invalid("tree needs exactly one of \"branching\" or \"parents\"")
            }
        }
    }

    public var model: String?
    public var threads: Int
    public var drafter: DrafterChoice
    /// Absent when `drafter` is none.
    public var tree: Tree?
    /// Rows the target evaluates per verification (root included): at most the tree's nodes + 1;
    /// drafts are cut to it. 1 without a drafter.
    public var verificationWidth: Int
    public var partition: PartitionPlan
    /// What the planner expected of this plan, for `chorus bench --plan` to compare against.
    public var predictedTokensPerSecond: Double?

    public init(model: String? = nil, threads: Int, drafter: DrafterChoice, shape: TreeShape?, verificationWidth: Int? = nil,
                partition: PartitionPlan, predictedTokensPerSecond: Double? = nil) {
        self.model = model
        self.threads = threads
        self.drafter = drafter
        tree = drafter == .none ? nil : shape.map(Tree.init(shape:))
        self.verificationWidth = verificationWidth ?? (drafter == .none ? 1 : (shape?.nodeCount ?? 0) + 1)
        self.partition = partition
        self.predictedTokensPerSecond = predictedTokensPerSecond
    }

    /// Plain decoding on `threads` even units.
    public static func plain(model: String? = nil, threads: Int) -> ExecutionPlan {
        ExecutionPlan(model: model, threads: threads, drafter: .none, shape: nil, partition: .uniform(units: threads))
    }

    enum CodingKeys: String, CodingKey {
        case format, model, threads, drafter, tree, partition
        case verificationWidth = "verification_width"
        case predictedTokensPerSecond = "predicted_tokens_per_second"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decodeIfPresent(String.self, forKey: .format) ?? Self.format
        guard format == Self.format else {
            throw ExecutionPlanError.invalid("format \"\(format)\" is not \(Self.format)")
        }
        model = try c.decodeIfPresent(String.self, forKey: .model)
        threads = try c.decode(Int.self, forKey: .threads)
        drafter = try c.decodeIfPresent(DrafterChoice.self, forKey: .drafter) ?? .none
        tree = try c.decodeIfPresent(Tree.self, forKey: .tree)
        partition = try c.decodeIfPresent(PartitionPlan.self, forKey: .partition) ?? .uniform(units: max(1, threads))
        let nodes = (try? tree?.shape().nodeCount) ?? 0
        verificationWidth = try c.decodeIfPresent(Int.self, forKey: .verificationWidth) ?? (drafter == .none ? 1 : nodes + 1)
        predictedTokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .predictedTokensPerSecond)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.format, forKey: .format)
        try c.encodeIfPresent(model, forKey: .model)
        try c.encode(threads, forKey: .threads)
        try c.encode(drafter, forKey: .drafter)
        try c.encodeIfPresent(tree, forKey: .tree)
        try c.encode(verificationWidth, forKey: .verificationWidth)
        try c.encode(partition, forKey: .partition)
        try c.encodeIfPresent(predictedTokensPerSecond, forKey: .predictedTokensPerSecond)
    }

    /// The tree shape, nil without a drafter.
    public func shape() throws -> TreeShape? {
        guard drafter != .none else { return nil }
        guard let tree else { throw ExecutionPlanError.invalid("drafter \"\(drafter)\" needs a \"tree\"") }
        do { return try tree.shape() } catch let error as SpeculativeError { throw ExecutionPlanError.invalid("tree: \(error)") }
    }

    /// Throws the first inconsistency as one readable line.
    public func validate() throws {
        guard (1...256).contains(threads) else { throw ExecutionPlanError.invalid("threads must be between 1 and 256, got \(threads)") }
        do { try partition.validate(forUnits: threads) } catch { throw ExecutionPlanError.invalid("partition: \(error)") }
        if drafter == .none {
            guard tree == nil else { throw ExecutionPlanError.invalid("a tree needs a drafter (drafter is \"none\")") }
            guard verificationWidth == 1 else { throw ExecutionPlanError.invalid("verification_width must be 1 without a drafter") }
            return
        }
        guard let shape = try shape() else { return }
        guard (2...(shape.nodeCount + 1)).contains(verificationWidth) else {
            throw ExecutionPlanError.invalid("verification_width must be between 2 and the tree's \(shape.nodeCount) nodes + 1, got \(verificationWidth)")
        }
    }

    /// Read and validate a plan; anything wrong is one `ExecutionPlanError` naming the file.
    public static func load(path: String) throws -> ExecutionPlan {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExecutionPlanError.invalid("cannot read plan file '\(path)'")
        }
        let plan: ExecutionPlan
        do {
            plan = try JSONDecoder().decode(ExecutionPlan.self, from: data)
            try plan.validate()
        } catch let error as ExecutionPlanError {
            throw ExecutionPlanError.invalid("'\(path)': \(error.message)")
        } catch let error as DecodingError {
            throw ExecutionPlanError.invalid("'\(path)' is not a plan: \(Self.describe(error))")
        } catch {
            throw ExecutionPlanError.invalid("'\(path)' is not a plan: \(error)")
        }
        return plan
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public func write(to path: String) throws {
        try (jsonData() + Data("\n".utf8)).write(to: URL(fileURLWithPath: path))
    }

    /// A decoding error as "at tree.branching: expected ..." rather than Foundation's dump.
    static func describe(_ error: DecodingError) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : "at \(path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")): "
        }
        switch error {
        case .dataCorrupted(let c):
            if c.codingPath.isEmpty { return "malformed JSON (\(c.debugDescription))" }
            return at(c.codingPath) + c.debugDescription
        case .keyNotFound(let key, let c): return at(c.codingPath) + "missing \"\(key.stringValue)\""
        case .typeMismatch(let type, let c): return at(c.codingPath) + "expected \(type)"
        case .valueNotFound(let type, let c): return at(c.codingPath) + "expected \(type), found null"
        @unknown default: return "\(error)"
        }
    }
}

/// A plan that cannot be used, as one line.
public struct ExecutionPlanError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public static func invalid(_ message: String) -> ExecutionPlanError { ExecutionPlanError(message: message) }
    public var description: String { "invalid plan: \(message)" }
}
