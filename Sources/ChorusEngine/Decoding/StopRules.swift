/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    case endOfGeneration = "eog", maxTokens = "length", contextFull = "context", stopString = "stop"
    case stoppedByCaller = "stopped"
}

/// When a sequence stops: an end-of-generation token (not emitted), the token budget, the context
/// (the cache cannot take the newest token), or a stop string in the text (cut before it).
public struct StopRules: Sendable {
    public var maxTokens: Int
    public var endOfGeneration: Set<Int>
    public var stops: [String]
    /// Keep generating through end-of-generation tokens (llama-server's `ignore_eos`, for benchmarks).
    public var ignoreEndOfGeneration: Bool

    public init(maxTokens: Int, endOfGeneration: Set<Int>, stops: [String] = [], ignoreEndOfGeneration: Bool = false) {
        self.maxTokens = maxTokens
        self.endOfGeneration = endOfGeneration
        self.stops = stops
        self.ignoreEndOfGeneration = ignoreEndOfGeneration
    }

    /// Whether `token` ends the sequence before it is emitted.
    func ends(at token: Int) -> Bool { !ignoreEndOfGeneration && endOfGeneration.contains(token) }

    /// Why a sequence that just emitted its `generated`-th token, with `held` tokens before that
    /// token in a cache of `capacity`, stops now (nil: it goes on).
    func stop(generated: Int, held: Int, capacity: Int) -> StopReason? {
        if generated >= maxTokens { return .maxTokens }
        if held >= capacity { return .contextFull }
        return nil
    }
}

/// Finds stop strings in streamed text: passes text on as soon as it can no longer be the start of a
/// stop string, holds back a tail that still could be, and cuts the text where a stop string begins.
public struct StopMatcher: Sendable {
    public let stops: [String]
    private var pending = ""

    public init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds `piece`; returns the text now safe to emit and whether a stop string was found (the text
    /// then ends just before it and nothing more may follow).
    public mutating func feed(_ piece: String) -> (text: String, stopped: Bool) {
        guard !stops.isEmpty else { return (piece, false) }
        pending += piece
        var earliest: String.Index?
        for stop in stops {
            if let range = pending.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true { earliest = range.lowerBound }
        }
        if let earliest {
            let text = String(pending[..<earliest])
            pending = ""
            return (text, true)
        }
        // Hold back the longest tail that is a proper prefix of some stop string.
        var keep = 0
        for stop in stops {
            for length in stride(from: min(stop.count - 1, pending.count), to: keep, by: -1)
            where pending.hasSuffix(String(stop.prefix(length))) {
                keep = length
                break
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let text = String(pending[..<cut])
        pending = String(pending[cut...])
        return (text, false)
    }

    /// Whatever is held back, at the end of generation.
    public mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
