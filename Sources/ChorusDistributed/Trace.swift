import ChorusTransport
import Foundation

/// What a rank was doing during one interval of a distributed run.
public enum TraceKind: String, Codable, Sendable {
    /// Running its blocks on a micro-batch (including tensor-parallel all-gathers inside them).
    case compute
    /// Blocked waiting for a message (hidden states, a header or logits).
    case wait
    /// A non-blocking send, from posting until its completion was seen (checked lazily, when its
    /// buffer is next needed, so the end may be late).
    case send
}

/// One interval on one rank; times in seconds since the run's common start (a barrier).
public struct TraceEvent: Codable, Sendable, Equatable {
    public var kind: TraceKind
    /// Forward pass (0 = the first `forward` call: prefill, or the first perplexity chunk).
    public var forward: Int
    public var microbatch: Int
    public var start: Double
    public var end: Double
    /// The other rank of a send or wait (-1 for compute).
    public var peer: Int

    public init(kind: TraceKind, forward: Int, microbatch: Int, start: Double, end: Double, peer: Int = -1) {
        self.kind = kind
        self.forward = forward
        self.microbatch = microbatch
        self.start = start
        self.end = end
        self.peer = peer
    }
}

/// Every rank's intervals of one run, written by rank 0 as JSON (`--trace`).
public struct Trace: Codable, Sendable, Equatable {
    public var model: String
    public var layout: RankLayout
    public var stageMap: StageMap
    public var threadsPerRank: Int
    /// Per rank, its events in the order they happened.
    public var ranks: [[TraceEvent]]

    public init(model: String, layout: RankLayout, stageMap: StageMap, threadsPerRank: Int, ranks: [[TraceEvent]]) {
        self.model = model
        self.layout = layout
        self.stageMap = stageMap
        self.threadsPerRank = threadsPerRank
        self.ranks = ranks
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    public static func load(path: String) throws -> Trace {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DistributedError.invalidSetup("cannot read trace '\(path)'")
        }
        do {
            return try JSONDecoder().decode(Trace.self, from: data)
        } catch {
            throw DistributedError.invalidSetup("'\(path)' is not a Chorus trace: \(error)")
        }
    }
}

/// Collects one rank's intervals (cheap: an array append per interval).
final class TraceRecorder {
    private(set) var events: [TraceEvent] = []
    let enabled: Bool
    /// Monotonic time of the common start.
    var origin: Double

    init(enabled: Bool, origin: Double) {
        self.enabled = enabled
        self.origin = origin
    }

    func record(_ kind: TraceKind, forward: Int, microbatch: Int, since start: Double, peer: Int = -1) {
        guard enabled else { return }
        events.append(TraceEvent(kind: kind, forward: forward, microbatch: microbatch, start: start - origin,
                                 end: monotonicSeconds() - origin, peer: peer))
    }
}
