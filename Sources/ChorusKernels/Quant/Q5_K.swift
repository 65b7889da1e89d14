import CChorusKernels
import ChorusGGUF

/// Q5_K: 176-byte super-blocks of 256 weights: d, dmin (f16), scales[12] (as Q4_K), qh[32],
/// qs[128]. As Q4_K with a fifth bit: weight 64j + l (l < 32) adds 16 if bit 2j of qh[l] is set,
/// weight 64j + 32 + l if bit 2j+1 is.
public enum Q5_K: QuantFormat {
    public static let type = GGMLType.q5_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * 176
            let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
            for j in 0..<4 {
                let q = block + 48 + 32 * j
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + 4)
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + 4)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                let d2 = d * Float(s2), min2 = dmin * Float(m2)
                for l in 0..<32 {
                    let byte = q.load(fromByteOffset: l, as: UInt8.self)
                    let high = block.load(fromByteOffset: 16 + l, as: UInt8.self)
                    let v1 = Int(byte & 0x0F) + ((high >> UInt8(2 * j)) & 1 == 1 ? 16 : 0)
                    let v2 = Int(byte >> 4) + ((high >> UInt8(2 * j + 1)) & 1 == 1 ? 16 : 0)
                    y[l] = d1 * Float(v1) - min1
                    y[32 + l] = d2 * Float(v2) - min2
                }
                y += 64
            }
        }
    }
}
