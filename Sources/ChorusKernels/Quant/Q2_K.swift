import CQuantBlocks
import ChorusGGUF

/// Q2_K (`ChorusBlockQ2_K`): super-blocks of 256 weights: scales[16] (low nibble scale, high nibble min of each
/// 16 weights), qs[64] (2-bit values), d and dmin (f16). Weight = d*scale*q - dmin*min.
/// Within each half of 128 weights, byte l of the half's 32 qs bytes holds weights l, l+32, l+64,
/// l+96 in bit pairs 0, 2, 4, 6.
public enum Q2_K: Int8KDotFormat {
    public static let type = GGMLType.q2_K
    typealias Block = ChorusBlockQ2_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d)), dmin = loadHalf(block, fieldOffset(\Block.dmin))
            var subBlock = 0
            for half in 0..<2 {
                let q = block + fieldOffset(\Block.qs) + 32 * half
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {  // the two 16-weight sub-blocks sharing this bit pair
                        let sc = block.load(fromByteOffset: fieldOffset(\Block.scales) + subBlock, as: UInt8.self)
                        subBlock += 1
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        for l in 0..<16 {
                            let v = (q.load(fromByteOffset: 16 * part + l, as: UInt8.self) >> UInt8(shift)) & 3
                            y.pointee = dl * Float(v) - ml
                            y += 1
                        }
                    }
                }
            }
        }
    }

    /// As ggml's AVX2 ggml_vec_dot_q2_K_q8_K: first the mins, lanes of pairs min * bsum (8 int32 over
    /// the 16 sub-blocks) fused with -x.d * dmin; then lanes of q*x (q in 0..3) times the 4-bit scale
    /// of each 16-weight half, fused with x.d * d into the same accumulator.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = UnsafeRawPointer(x + b)
            let xd = SuperBlockLanes.scale(xb)
            func scale(_ i: Int) -> UInt8 { block.load(fromByteOffset: fieldOffset(\Block.scales) + i, as: UInt8.self) }
            acc.add(SuperBlockLanes.pairedWithBsums(xb) { Int32(scale($0) >> 4) }, scale: -xd * loadHalf(block, fieldOffset(\Block.dmin)))
            var sumi = SIMD8<Int32>()
            for h in 0..<2 {
                let bits = SuperBlockLanes.bytes(block + fieldOffset(\Block.qs) + 32 * h)
                for k in 0..<4 {
                    let c = 4 * h + k
                    let q = SuperBlockLanes.bits(bits, shift: 2 * k, mask: 3)
                    sumi &+= laneDot(q, SuperBlockLanes.chunk(xb, c)) &* SuperBlockLanes.pair(scale(2 * c) & 0x0F, scale(2 * c + 1) & 0x0F)
                }
            }
            acc.add(sumi, scale: xd * loadHalf(block, fieldOffset(\Block.d)))
        }
        return acc.total
    }
}
