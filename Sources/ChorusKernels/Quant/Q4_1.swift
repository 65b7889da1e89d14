import CQuantBlocks
import ChorusGGUF

/// Q4_1 (`ChorusBlockQ4_1`): blocks of 32 weights, d and m (f16) then 16 bytes of nibbles; weight = d * q + m.
public enum Q4_1: Int8DotFormat {
    public static let type = GGMLType.q4_1
    typealias Block = ChorusBlockQ4_1

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d)), m = loadHalf(block, fieldOffset(\Block.m))
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: fieldOffset(\Block.qs) + i, as: UInt8.self)
                dst[b * 32 + i] = d * Float(byte & 0x0F) + m
                dst[b * 32 + i + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    /// d*dx*dot(q, x) through the lanes; m*s(x) in a scalar kept beside them, added last.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        var minTerm: Float = 0
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xb = x[b]
            acc.add(laneDot(unpackNibbles(block + fieldOffset(\Block.qs)), loadQs(x + b)), scale: loadHalf(block, fieldOffset(\Block.d)) * xb.d)
            minTerm.addProduct(loadHalf(block, fieldOffset(\Block.m)), xb.s)
        }
        return acc.total + minTerm
    }
}
