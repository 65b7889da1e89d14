import CQuantBlocks
import ChorusGGUF

/// Q3_K (`ChorusBlockQ3_K`): super-blocks of 256 weights: hmask[32] (high bits), qs[64] (low 2 bits),
/// scales[12] (16 six-bit signed scales, see `KQuantScales.q3Scale`), d (f16).
/// Weight = d * scale * (low - (high bit clear ? 4 : 0)). Weight 128h + 32k + l takes its low bits
/// from bit pair k of qs[32h + l] and its high bit from bit 4h + k of hmask[l].
public enum Q3_K: Int8KDotFormat {
    public static let type = GGMLType.q3_K
    typealias Block = ChorusBlockQ3_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * blockBytes(Block.self)
            let dAll = loadHalf(block, fieldOffset(\Block.d))
            var subBlock = 0
            for half in 0..<2 {
                let q = block + fieldOffset(\Block.qs) + 32 * half
                for k in 0..<4 {
                    let bit = UInt8(4 * half + k)
                    for part in 0..<2 {
                        let dl = dAll * Float(KQuantScales.q3Scale(subBlock, block + fieldOffset(\Block.scales)))
                        subBlock += 1
                        for l in 16 * part..<16 * part + 16 {
                            let low = Int((q.load(fromByteOffset: l, as: UInt8.self) >> UInt8(2 * k)) & 3)
                            let high = (block.load(fromByteOffset: fieldOffset(\Block.hmask) + l, as: UInt8.self) >> bit) & 1
                            y.pointee = dl * Float(low - (high == 0 ? 4 : 0))
                            y += 1
                        }
                    }
                }
            }
        }
    }

    /// As ggml's AVX2 ggml_vec_dot_q3_K_q8_K: per 32 weights, lanes of low*x - hi*x (hi = 4 where
    /// the high bit is clear) times the signed scale of each 16-weight half, summed over the
    /// super-block and fused with x.d * d.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            let high = SuperBlockLanes.bytes(block + fieldOffset(\Block.hmask))
            var sumi = SIMD8<Int32>()
            for h in 0..<2 {
                let bits = SuperBlockLanes.bytes(block + fieldOffset(\Block.qs) + 32 * h)
                for k in 0..<4 {
                    let c = 4 * h + k
                    let low = SuperBlockLanes.bits(bits, shift: 2 * k, mask: 3)
                    let hi = shiftLeft(SuperBlockLanes.bits(high, shift: c, mask: 1) ^ byteMask(1), by: 2)
                    let xv = SuperBlockLanes.chunk(xb, c)
                    let scales = SuperBlockLanes.pair(KQuantScales.q3Scale(2 * c, block + fieldOffset(\Block.scales)), KQuantScales.q3Scale(2 * c + 1, block + fieldOffset(\Block.scales)))
                    sumi &+= (laneDot(low, xv) &- laneDot(hi, xv)) &* scales
                }
            }
            acc.add(sumi, scale: SuperBlockLanes.scale(xb) * loadHalf(block, fieldOffset(\Block.d)))
        }
        return acc.total
    }
}
