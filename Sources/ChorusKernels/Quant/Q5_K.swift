import CQuantBlocks
import ChorusGGUF

/// Q5_K (`ChorusBlockQ5_K`): super-blocks of 256 weights: d, dmin (f16), scales[12] (as Q4_K), qh[32],
/// qs[128]. As Q4_K with a fifth bit: weight 64j + l (l < 32) adds 16 if bit 2j of qh[l] is set,
/// weight 64j + 32 + l if bit 2j+1 is.
public enum Q5_K: Int8KDotFormat {
    public static let type = GGMLType.q5_K
    typealias Block = ChorusBlockQ5_K

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
                for l in 0..<32 {
                    let byte = q.load(fromByteOffset: l, as: UInt8.self)
                    let high = block.load(fromByteOffset: fieldOffset(\Block.qh) + l, as: UInt8.self)
                    let v1 = Int(byte & 0x0F) + ((high >> UInt8(2 * j)) & 1 == 1 ? 16 : 0)
                    let v2 = Int(byte >> 4) + ((high >> UInt8(2 * j + 1)) & 1 == 1 ? 16 : 0)
                    y[l] = d1 * Float(v1) - min1
                    y[32 + l] = d2 * Float(v2) - min2
                }
                y += 64
            }
        }
    }

    /// As ggml's AVX2 ggml_vec_dot_q5_K_q8_K: lanes as Q4_K with 5-bit values, fused with x.d * d;
    /// the mins summed to one integer per super-block and fused into a scalar with -x.d * dmin,
    /// added to the lane total at the end.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        var minTerm: Float = 0
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            let xd = SuperBlockLanes.scale(xb)
            let high = SuperBlockLanes.bytes(block + fieldOffset(\Block.qh))
            var mins: Int32 = 0
            var sumi = SIMD8<Int32>()
            for j in 0..<4 {
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + fieldOffset(\Block.scales))
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + fieldOffset(\Block.scales))
                mins &+= Int32(m1) &* (SuperBlockLanes.bsum(xb, 4 * j) &+ SuperBlockLanes.bsum(xb, 4 * j + 1)) &+ Int32(m2) &* (SuperBlockLanes.bsum(xb, 4 * j + 2) &+ SuperBlockLanes.bsum(xb, 4 * j + 3))
                let bits = SuperBlockLanes.bytes(block + fieldOffset(\Block.qs) + 32 * j)
                let lo = (bits & byteMask(0x0F)) | shiftLeft(SuperBlockLanes.bits(high, shift: 2 * j, mask: 1), by: 4)
                let hi = SuperBlockLanes.bits(bits, shift: 4, mask: 0x0F) | shiftLeft(SuperBlockLanes.bits(high, shift: 2 * j + 1, mask: 1), by: 4)
                sumi &+= laneDot(lo, SuperBlockLanes.chunk(xb, 2 * j)) &* Int32(s1)
                sumi &+= laneDot(hi, SuperBlockLanes.chunk(xb, 2 * j + 1)) &* Int32(s2)
            }
            minTerm.addProduct(-xd * loadHalf(block, fieldOffset(\Block.dmin)), Float(mins))
            acc.add(sumi, scale: xd * loadHalf(block, fieldOffset(\Block.d)))
        }
        return acc.total + minTerm
    }
}
