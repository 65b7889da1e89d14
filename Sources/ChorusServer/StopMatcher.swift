/// Finds stop strings in streamed text: passes text on as soon as it can no longer be the start of a
/// stop string, holds back a tail that still could be, and cuts the text where a stop string begins.
struct StopMatcher: Sendable {
    let stops: [String]
    private var pending = ""

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds `piece`; returns the text now safe to emit and whether a stop string was found (the text
    /// then ends just before it and nothing more may follow).
    mutating func feed(_ piece: String) -> (text: String, stopped: Bool) {
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
    mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
