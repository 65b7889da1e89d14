import CQuantBlocks
import ChorusGGUF

/// Q4_K (`ChorusBlockQ4_K`): super-blocks of 256 weights: d, dmin (f16), scales[12] (8 six-bit scales and
/// mins, see `KQuantScales.scaleMin`), qs[128]. Weight = d*scale*q - dmin*min; each 64 weights
/// share 32 qs bytes, low nibbles first (sub-block 2j), then high nibbles (sub-block 2j+1).
public enum Q4_K: Int8KDotFormat {
    public static let type = GGMLType.q4_K
    typealias Block = ChorusBlockQ4_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d)), dmin = loadHalf(block, fieldOffset(\Block.dmin))
            for j in 0..<4 {
                let q = block + fieldOffset(\Block.qs) + 32 * j
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + fieldOffset(\Block.scales))
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + fieldOffset(\Block.scales))
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                let d2 = d * Float(s2), min2 = dmin * Float(m2)
                for l in 0..<32 { y[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - min1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - min2 }
                y += 64
            }
        }
    }

    /// As ggml's AVX2 ggml_vec_dot_q4_K_q8_K: per super-block, lanes = sum over sub-blocks of
    /// scale * laneDot(nibbles, x), fused into the lanes with x.d * d; the mins, as 4 int32 pairs
    /// min * (sub-block sum of x), fused into 4 more lanes with -x.d * dmin; reduced as
    /// total + ((m0+m2) + (m1+m3)).
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        var minLanes = SIMD4<Float>()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            let xd = SuperBlockLanes.scale(xb)
            var prod = SIMD4<Int32>()
            var sumi = SIMD8<Int32>()
            for j in 0..<4 {
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + fieldOffset(\Block.scales))
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + fieldOffset(\Block.scales))
                prod[j] = Int32(m1) &* (SuperBlockLanes.bsum(xb, 4 * j) &+ SuperBlockLanes.bsum(xb, 4 * j + 1)) &+ Int32(m2) &* (SuperBlockLanes.bsum(xb, 4 * j + 2) &+ SuperBlockLanes.bsum(xb, 4 * j + 3))
                let bits = SuperBlockLanes.bytes(block + fieldOffset(\Block.qs) + 32 * j)
                sumi &+= laneDot(bits & byteMask(0x0F), SuperBlockLanes.chunk(xb, 2 * j)) &* Int32(s1)
                sumi &+= laneDot(SuperBlockLanes.bits(bits, shift: 4, mask: 0x0F), SuperBlockLanes.chunk(xb, 2 * j + 1)) &* Int32(s2)
            }
            minLanes.addProduct(SIMD4(repeating: -xd * loadHalf(block, fieldOffset(\Block.dmin))), SIMD4<Float>(prod))
            acc.add(sumi, scale: xd * loadHalf(block, fieldOffset(\Block.d)))
        }
        return acc.total + ((minLanes[0] + minLanes[2]) + (minLanes[1] + minLanes[3]))
    }

    /// As llama.cpp's repacked Q4_K kernels (block_q4_Kx8; llama.cpp uses them on AVX2 for
    /// matrices whose row count is a multiple of 8). Per 64 weights j (sub-blocks 2j, 2j+1), the exact
    /// integers S_j = sum of scale * (nibbles . x) and M_j = sum of min * (sub-block sum of x). With
    /// `per64` false (ggml_gemv_q4_K_8x8_q8_K, one activation row or the last nrows % 4 of a batch)
    /// they meet the floats once per super-block: acc = fma(float(S_0+..+S_3), d * x.d, acc) and
    /// accm = fma(float(M_0+..+M_3), dmin * x.d, accm); with `per64` true (ggml_gemm_q4_K_8x8_q8_K,
    /// the batch's groups of 4 rows) once per 64 weights. Result acc - accm.
    @inline(__always)
    public static func dotRepacked(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int, per64: Bool) -> Float {
        var acc: Float = 0, accm: Float = 0
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            let xd = SuperBlockLanes.scale(xb)
            let d = loadHalf(block, fieldOffset(\Block.d)) * xd, dmin = loadHalf(block, fieldOffset(\Block.dmin)) * xd
            var total: Int32 = 0, minTotal: Int32 = 0
            for j in 0..<4 {
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + fieldOffset(\Block.scales))
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + fieldOffset(\Block.scales))
                let bits = SuperBlockLanes.bytes(block + fieldOffset(\Block.qs) + 32 * j)
                let lanes = laneDot(bits & byteMask(0x0F), SuperBlockLanes.chunk(xb, 2 * j)) &* Int32(s1)
                    &+ laneDot(SuperBlockLanes.bits(bits, shift: 4, mask: 0x0F), SuperBlockLanes.chunk(xb, 2 * j + 1)) &* Int32(s2)
                let s = lanes.wrappedSum()
                let m = Int32(m1) &* (SuperBlockLanes.bsum(xb, 4 * j) &+ SuperBlockLanes.bsum(xb, 4 * j + 1))
                    &+ Int32(m2) &* (SuperBlockLanes.bsum(xb, 4 * j + 2) &+ SuperBlockLanes.bsum(xb, 4 * j + 3))
                if per64 {
                    acc = acc.addingProduct(Float(s), d)
                    accm = accm.addingProduct(Float(m), dmin)
                } else {
                    total &+= s
                    minTotal &+= m
                }
            }
            if !per64 {
                acc = acc.addingProduct(Float(total), d)
                accm = accm.addingProduct(Float(minTotal), dmin)
            }
        }
        return acc - accm
    }
}
