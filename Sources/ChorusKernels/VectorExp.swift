/// exp and SiLU on eight lanes, computed exactly as ggml's AVX2 `ggml_v_expf` / `ggml_v_silu`
/// (the reference llama.cpp's): a range reduction by ln 2, a degree-5 polynomial, and special
/// scaling for |n| > 126. Max error about 1.5 ulp; what matters is that it is the same function,
/// so the FFN activations agree with llama.cpp bit for bit. Pure Swift SIMD, portable.
public enum VectorExp {
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let r = SIMD8<Float>(repeating: 0x1.8p23)
        let z = r.addingProduct(x, SIMD8(repeating: 0x1.715476p+0))
        let n = z - r
        let b = x.addingProduct(-n, SIMD8(repeating: 0x1.62e4p-1)).addingProduct(-n, SIMD8(repeating: 0x1.7f7d1cp-20))
        let e = unsafeBitCast(z, to: SIMD8<UInt32>.self) &<< 23
        let k = unsafeBitCast(e &+ unsafeBitCast(SIMD8<Float>(repeating: 1), to: SIMD8<UInt32>.self), to: SIMD8<Float>.self)
        let absN = unsafeBitCast(unsafeBitCast(n, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        let c = absN .> 126
        let u = b * b
        let inner = SIMD8<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD8(repeating: 0x1.0e4020p-7), b)
        let low = SIMD8<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD8(repeating: 0x1.555e66p-3), b)
        let j = (b * SIMD8(repeating: 0x1.ffffecp-1)).addingProduct(low.addingProduct(inner, u), u)
        let regular = k.addingProduct(j, k)
        if !any(c) { return regular }
        // Lanes whose exponent falls outside the normal range.
        var gBits = SIMD8<UInt32>(repeating: 0)
        for lane in 0..<8 where n[lane] <= 0 { gBits[lane] = 0x8200_0000 }
        let s1 = unsafeBitCast(gBits &+ 0x7F00_0000, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast(e &- gBits, to: SIMD8<UInt32>.self)
        let s2f = unsafeBitCast(s2, to: SIMD8<Float>.self)
        let d = absN .> 192
        let scaled = s2f.addingProduct(s2f, j) * s1
        let huge = s1 * s1
        var result = regular
        for lane in 0..<8 {
            if d[lane] { result[lane] = huge[lane] } else if c[lane] { result[lane] = scaled[lane] }
        }
        return result
    }

    /// x / (1 + exp(-x)), as ggml_v_silu.
    @inline(__always)
    public static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + exp(0 - x))
    }
}
