import CChorusKernels
import ChorusGGUF

/// Q3_K: 110-byte super-blocks of 256 weights: hmask[32] (high bits), qs[64] (low 2 bits),
/// scales[12] (16 six-bit signed scales, see `KQuantScales.q3Scale`), d (f16).
/// Weight = d * scale * (low - (high bit clear ? 4 : 0)). Weight 128h + 32k + l takes its low bits
/// from bit pair k of qs[32h + l] and its high bit from bit 4h + k of hmask[l].
public enum Q3_K: QuantFormat {
    public static let type = GGMLType.q3_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * 110
            let dAll = loadHalf(block, 108)
            var subBlock = 0
            for half in 0..<2 {
                let q = block + 32 + 32 * half
                for k in 0..<4 {
                    let bit = UInt8(4 * half + k)
                    for part in 0..<2 {
                        let dl = dAll * Float(KQuantScales.q3Scale(subBlock, block + 96))
                        subBlock += 1
                        for l in 16 * part..<16 * part + 16 {
                            let low = Int((q.load(fromByteOffset: l, as: UInt8.self) >> UInt8(2 * k)) & 3)
                            let high = (block.load(fromByteOffset: l, as: UInt8.self) >> bit) & 1
                            y.pointee = dl * Float(low - (high == 0 ? 4 : 0))
                            y += 1
                        }
                    }
                }
            }
        }
    }
}
