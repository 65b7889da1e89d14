import CChorusKernels
import ChorusGGUF

/// Q4_K: 144-byte super-blocks of 256 weights: d, dmin (f16), scales[12] (8 six-bit scales and
/// mins, see `KQuantScales.scaleMin`), qs[128]. Weight = d*scale*q - dmin*min; each 64 weights
/// share 32 qs bytes, low nibbles first (sub-block 2j), then high nibbles (sub-block 2j+1).
public enum Q4_K: QuantFormat {
    public static let type = GGMLType.q4_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * 144
            let d = loadHalf(block, 0), dmin = loadHalf(block, 2)
            for j in 0..<4 {
                let q = block + 16 + 32 * j
                let (s1, m1) = KQuantScales.scaleMin(2 * j, block + 4)
                let (s2, m2) = KQuantScales.scaleMin(2 * j + 1, block + 4)
                let d1 = d * Float(s1), min1 = dmin * Float(m1)
                let d2 = d * Float(s2), min2 = dmin * Float(m2)
                for l in 0..<32 { y[l] = d1 * Float(q.load(fromByteOffset: l, as: UInt8.self) & 0x0F) - min1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(q.load(fromByteOffset: l, as: UInt8.self) >> 4) - min2 }
                y += 64
            }
        }
    }
}
