import CQuantBlocks
import ChorusGGUF

/// Q8_0 (`ChorusBlockQ8_0`): blocks of 32 weights, d (f16) then 32 int8; weight = d * q.
public enum Q8_0: Int8DotFormat {
    public static let type = GGMLType.q8_0
    typealias Block = ChorusBlockQ8_0

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d))
            for i in 0..<32 {
                dst[b * 32 + i] = d * Float(block.load(fromByteOffset: fieldOffset(\Block.qs) + i, as: Int8.self))
            }
        }
    }

    /// Lanes of q * x, the integers ggml's sign trick (|q| times x with q's sign) produces.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let q = loadBytes32(block + fieldOffset(\Block.qs))
            acc.add(laneDotSigned(q, loadQs(x + b)), scale: loadHalf(block, fieldOffset(\Block.d)) * x[b].d)
        }
        return acc.total
    }
}
