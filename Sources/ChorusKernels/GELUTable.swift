#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GELU (tanh approximation) through a table over every half-float input, as ggml computes it
/// (GGML_GELU_FP16): the input is rounded to half, looked up, and the half result widened.
/// Inputs at or below -10 give 0 and at or above 10 give the input. Matching this table is what
/// makes Gemma's feed-forward activations agree with llama.cpp bit for bit.
public enum GELUTable {
    /// table[h] = half(gelu(float(h))) for every half-float bit pattern h.
    public static let values: [UInt16] = (0...UInt16.max).map { bits in
        let x = halfToFloat(bits)
        // 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))), the inner 1 + (a x) x fused as GCC compiles it.
        let inner = Float(1).addingProduct(0.044715 * x, x)
        let t = tanhf(0.797_884_56 * x * inner)
        return floatToHalf(0.5 * x * (1 + t))
    }

    /// gelu(x) as ggml's table-based ggml_vec_gelu_f32 gives it.
    @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        if x <= -10 { return 0 }
        if x >= 10 { return x }
        return values.withUnsafeBufferPointer { halfToFloat($0[Int(floatToHalf(x))]) }
    }
}
