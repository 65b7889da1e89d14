import CQuantBlocks
import ChorusGGUF

/// Q6_K (`ChorusBlockQ6_K`): super-blocks of 256 weights: ql[128] (low 4 bits), qh[64] (high 2 bits),
/// scales[16] (int8, one per 16 weights), d (f16). Weight = d * scale * (q - 32). In each half of
/// 128 weights, weight 32k + l takes nibble (k / 2) of ql[64h + 32(k % 2) + l] and bit pair k of qh[32h + l].
public enum Q6_K: Int8KDotFormat {
    public static let type = GGMLType.q6_K
    typealias Block = ChorusBlockQ6_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d))
            for half in 0..<2 {
                let ql = block + fieldOffset(\Block.ql) + 64 * half, qh = block + fieldOffset(\Block.qh) + 32 * half
                let sc = block + fieldOffset(\Block.scales) + 8 * half
                for l in 0..<32 {
                    let lo0 = ql.load(fromByteOffset: l, as: UInt8.self)
                    let lo1 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                    let h = qh.load(fromByteOffset: l, as: UInt8.self)
                    let q1 = Int((lo0 & 0x0F) | ((h >> 0) & 3) << 4) - 32
                    let q2 = Int((lo1 & 0x0F) | ((h >> 2) & 3) << 4) - 32
                    let q3 = Int((lo0 >> 4) | ((h >> 4) & 3) << 4) - 32
                    let q4 = Int((lo1 >> 4) | ((h >> 6) & 3) << 4) - 32
                    let s = l / 16
                    func scale(_ i: Int) -> Float { Float(sc.load(fromByteOffset: i, as: Int8.self)) }
                    // As ggml: (d * scale) * q, left to right.
                    y[l] = d * scale(s) * Float(q1)
                    y[l + 32] = d * scale(s + 2) * Float(q2)
                    y[l + 64] = d * scale(s + 4) * Float(q3)
                    y[l + 96] = d * scale(s + 6) * Float(q4)
                }
                y += 128
            }
        }
    }

    /// As ggml's AVX2 ggml_vec_dot_q6_K_q8_K (llama.cpp 2026): per 32 weights, lanes of q*x (q in
    /// 0..63) times the int8 scale of each 16-weight half, summed over the super-block; the -32
    /// offset subtracted per lane l as 32 * (bsum[2l]*scale[2l] + bsum[2l+1]*scale[2l+1]); the
    /// result fused with x.d * d.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            acc.add(lanes(block, xb), scale: SuperBlockLanes.scale(xb) * loadHalf(block, fieldOffset(\Block.d)))
        }
        return acc.total
    }

    /// As llama.cpp's tiled K-quant matmul (ggml-cpu/tiled, AVX2 microtile), which llama.cpp uses
    /// for Q6_K products of 8 or more activation rows: per super-block the exact integer
    /// S = sum of scale * (q - 32) * x, then acc = fma(d * float(S), x.d, acc).
    @inline(__always)
    public static func dotTiled(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc: Float = 0
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            acc = acc.addingProduct(loadHalf(block, fieldOffset(\Block.d)) * Float(lanes(block, xb).wrappedSum()), SuperBlockLanes.scale(xb))
        }
        return acc
    }

    /// The 8 int32 lanes of one super-block: q * x (q in 0..63) times the scales, minus 32 * (bsum * scale) pairs.
    @inline(__always)
    static func lanes(_ block: UnsafeRawPointer, _ xb: UnsafeRawPointer) -> SIMD8<Int32> {
        func scale(_ i: Int) -> Int32 { Int32(block.load(fromByteOffset: fieldOffset(\Block.scales) + i, as: Int8.self)) }
        var sumi = SIMD8<Int32>()
        for h in 0..<2 {
            let l1 = SuperBlockLanes.bytes(block + fieldOffset(\Block.ql) + 64 * h), l2 = SuperBlockLanes.bytes(block + fieldOffset(\Block.ql) + 64 * h + 32)
            let hb = SuperBlockLanes.bytes(block + fieldOffset(\Block.qh) + 32 * h)
            for k in 0..<4 {
                let c = 4 * h + k
                let source = k % 2 == 0 ? l1 : l2
                let low = SuperBlockLanes.bits(source, shift: k < 2 ? 0 : 4, mask: 0x0F)
                let twoBits = SuperBlockLanes.bits(hb, shift: 2 * k, mask: 3)
                let q = low | shiftLeft(twoBits, by: 4)
                let xv = SuperBlockLanes.chunk(xb, c)
                sumi &+= laneDot(q, xv) &* SuperBlockLanes.pair(scale(2 * c), scale(2 * c + 1))
            }
        }
        return sumi &- (SuperBlockLanes.pairedWithBsums(xb, scale) &<< 5)
    }
}

/// Q6_K with `Q6_K.dotTiled` as its product: llama.cpp's order for batches of 8 or more rows.
enum Q6_KTiled: Int8KDotFormat {
    static let type = GGMLType.q6_K
    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Q6_K.dequantize(src, into: dst, count: count)
    }
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        Q6_K.dotTiled(row, x, blocks: blocks)
    }
}
