/// How the next token is chosen, with llama.cpp's meaning and defaults.
public struct SamplingParameters: Sendable, Codable, Equatable {
    /// 0 picks the most likely token (greedy); otherwise logits are divided by it before sampling.
    public var temperature: Float = 0.8
    /// Keep the k most likely tokens (0 or less: all).
    public var topK: Int = 40
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP: Float = 0.95
    /// Drop tokens less likely than min_p times the most likely one (0: none).
    public var minP: Float = 0.05
    /// Divide positive (multiply negative) logits of recently seen tokens by this (1: off).
    public var repeatPenalty: Float = 1.0
    /// How many recent tokens the repeat penalty looks at.
    public var repeatLastN: Int = 64
    /// Random seed; the same seed and inputs give the same tokens.
    public var seed: UInt64 = 0

    public init() {}

    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }

    public var isGreedy: Bool { temperature <= 0 }

    /// Throws for values that make no sense (negative temperature, top_p outside (0, 1], ...).
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw SamplingError.invalid(message) } }
        try check(temperature >= 0 && temperature.isFinite, "temperature must be >= 0")
        try check(topP > 0 && topP <= 1, "top-p must be in (0, 1]")
        try check(minP >= 0 && minP <= 1, "min-p must be in [0, 1]")
        try check(repeatPenalty > 0 && repeatPenalty.isFinite, "repeat penalty must be > 0")
        try check(repeatLastN >= 0, "repeat-last-n must be >= 0")
    }
}

public enum SamplingError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let message): return "invalid sampling parameter: \(message)"
        }
    }
}
