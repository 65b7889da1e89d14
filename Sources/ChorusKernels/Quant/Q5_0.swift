import CQuantBlocks
import ChorusGGUF

/// Q5_0 (`ChorusBlockQ5_0`): blocks of 32 weights: d (f16), qh (32 fifth bits, u32), then 16 bytes of nibbles;
/// weight i = d * (q_i - 16) with q_i = nibble | (bit i of qh) << 4. Small models mix it with the
/// K-quants for matrices whose width is not a multiple of 256.
public enum Q5_0: Int8DotFormat {
    public static let type = GGMLType.q5_0
    typealias Block = ChorusBlockQ5_0

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * blockBytes(Block.self)
            let d = loadHalf(block, fieldOffset(\Block.d))
            let qh = block.loadUnaligned(fromByteOffset: fieldOffset(\Block.qh), as: UInt32.self)
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: fieldOffset(\Block.qs) + i, as: UInt8.self)
                let lo = Int(byte & 0x0F) | Int((qh >> UInt32(i)) & 1) << 4
                let hi = Int(byte >> 4) | Int((qh >> UInt32(i + 16)) & 1) << 4
                dst[b * 32 + i] = Float(lo - 16) * d
                dst[b * 32 + i + 16] = Float(hi - 16) * d
            }
        }
    }

    /// lanes = dot(q, x) - 16 * dot(1, x): the integers ggml's sign trick produces, in the same lanes.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * blockBytes(Block.self)
            let xq = loadQs(x + b)
            let q = unpackNibbles(block + fieldOffset(\Block.qs)) | fifthBits(block + fieldOffset(\Block.qh))
            acc.add(laneDot(q, xq, minus: 16), scale: loadHalf(block, fieldOffset(\Block.d)) * x[b].d)
        }
        return acc.total
    }
}

/// Bit i of the little-endian u32 at `p`, moved to 16 (the fifth bit of weight i) in byte i.
@inlinable @inline(__always)
func fifthBits(_ p: UnsafeRawPointer) -> Bytes32 {
    // Byte i of `spread` is byte i / 8 of qh; the mask keeps its bit i % 8.
    let qh = UInt64(p.loadUnaligned(as: UInt32.self))
    let ones: UInt64 = 0x0101_0101_0101_0101
    let spread = SIMD4<UInt64>((qh & 0xFF) &* ones, ((qh >> 8) & 0xFF) &* ones, ((qh >> 16) & 0xFF) &* ones, (qh >> 24) &* ones)
    let select = SIMD8<UInt16>(0x0201, 0x0804, 0x2010, 0x8040, 0x0201, 0x0804, 0x2010, 0x8040)
    let bits = unsafeBitCast(spread, to: Bytes32.self) & Bytes32(lowHalf: select, highHalf: select)
    // A set bit (a power of two) plus 0x7F reaches 0x80, zero does not; 0x80 >> 3 = 16.
    return shiftRight((bits &+ byteMask(0x7F)) & byteMask(0x80), by: 3, mask: 0x10)
}
