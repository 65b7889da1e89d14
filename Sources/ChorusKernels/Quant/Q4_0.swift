import CQuantBlocks
import ChorusGGUF

/// Q4_0 (`ChorusBlockQ4_0`): blocks of 32 weights, d (f16) then 16 bytes of nibbles; weight = d * (q - 8).
public enum Q4_0: Int8DotFormat {
    public static let type = GGMLType.q4_0
    typealias Block = ChorusBlockQ4_0

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d))
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: fieldOffset(\Block.qs) + i, as: UInt8.self)
                dst[b * 32 + i] = d * Float(Int(byte & 0x0F) - 8)
                dst[b * 32 + i + 16] = d * Float(Int(byte >> 4) - 8)
            }
        }
    }

    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xq = loadQs(x + b)
            let ints = laneDot(unpackNibbles(block + fieldOffset(\Block.qs)), xq, minus: 8)
            acc.add(ints, scale: loadHalf(block, fieldOffset(\Block.d)) * x[b].d)
        }
        return acc.total
    }
}
