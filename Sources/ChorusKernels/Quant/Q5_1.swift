import CQuantBlocks
import ChorusGGUF

/// Q5_1 (`ChorusBlockQ5_1`): blocks of 32 weights: d and m (f16), qh (u32 of fifth bits), 16 bytes of nibbles;
/// weight i = d * q_i + m with q_i = nibble | (bit i of qh) << 4.
public enum Q5_1: Int8DotFormat {
    public static let type = GGMLType.q5_1
    typealias Block = ChorusBlockQ5_1

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d)), m = loadHalf(block, fieldOffset(\Block.m))
            let qh = block.loadUnaligned(fromByteOffset: fieldOffset(\Block.qh), as: UInt32.self)
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: fieldOffset(\Block.qs) + i, as: UInt8.self)
                let lo = Int(byte & 0x0F) | Int((qh >> UInt32(i)) & 1) << 4
                let hi = Int(byte >> 4) | Int((qh >> UInt32(i + 16)) & 1) << 4
                dst[b * 32 + i] = Float(lo) * d + m
                dst[b * 32 + i + 16] = Float(hi) * d + m
            }
        }
    }

    /// As Q4_1: d*dx*dot(q, x) through the lanes, m*s(x) fused into a scalar added last.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        var minTerm: Float = 0
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = x[b]
            let q = unpackNibbles(block + fieldOffset(\Block.qs)) | fifthBits(block + fieldOffset(\Block.qh))
            acc.add(laneDot(q, loadQs(x + b)), scale: loadHalf(block, fieldOffset(\Block.d)) * xb.d)
            minTerm.addProduct(loadHalf(block, fieldOffset(\Block.m)), xb.s)
        }
        return acc.total + minTerm
    }
}
