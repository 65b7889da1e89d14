/// The int8 representations an activation row can be quantised into. Weights of different types in
/// one layer read the same activation row in different forms (Q4_0/Q5_0/Q8_0 in blocks of 32, the
/// K-quants in super-blocks of 256), so a `QuantizedActivations` holds every form its consumers need.
public struct ActivationFormats: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `ChorusQ8Block`: 32 values, f16-rounded scale and scaled sum (ggml's block_q8_0/q8_1), for
    /// Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weights.
    public static let blocks32 = ActivationFormats(rawValue: 1 << 0)
    /// `ChorusQ8KBlock`: 256 values, f32 scale and 16 partial sums (ggml's block_q8_K), for
    /// Q2_K, Q3_K, Q4_K, Q5_K and Q6_K weights. Needs a row width that is a multiple of 256.
    public static let k256 = ActivationFormats(rawValue: 1 << 1)
}
