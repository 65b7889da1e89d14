/// SplitMix64 (Steele, Lea, Flood 2014): the one deterministic generator of ChorusTraining. It seeds the
/// LoRA initialisation (element i of a tensor is output i of the generator keyed by the tensor's stream,
/// so Python and Swift agree bit for bit; see scripts/training-reference/lora_reference.py) and the data
/// shuffle, whose state goes into checkpoints so `--resume` continues the same order.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The generator's whole state.
    public var state: UInt64

    public static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init(state: UInt64) { self.state = state }

    /// The generator for stream `stream` of run seed `seed`: state = mix(seed + stream * golden).
    public init(seed: UInt64, stream: UInt64) {
        state = Self.mix(seed &+ stream &* Self.golden)
    }

    /// SplitMix64's output function.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= Self.golden
        return Self.mix(state)
    }

    /// A uniform f32 in [-1, 1) with 24 random bits (exact: 2u - 1 for u = (next >> 40) * 2^-24).
    public mutating func nextSymmetricFloat() -> Float {
        let u = Float(next() >> 40) * 0x1p-24
        return 2 * u - 1
    }
}
