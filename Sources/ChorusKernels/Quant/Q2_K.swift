import CChorusKernels
import ChorusGGUF

/// Q2_K: 84-byte super-blocks of 256 weights: scales[16] (low nibble scale, high nibble min of each
/// 16 weights), qs[64] (2-bit values), d and dmin (f16). Weight = d*scale*q - dmin*min.
/// Within each half of 128 weights, byte l of the half's 32 qs bytes holds weights l, l+32, l+64,
/// l+96 in bit pairs 0, 2, 4, 6.
public enum Q2_K: QuantFormat {
    public static let type = GGMLType.q2_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        var y = dst
        for b in 0..<count / 256 {
            let block = src + b * 84
            let d = loadHalf(block, 80), dmin = loadHalf(block, 82)
            var subBlock = 0
            for half in 0..<2 {
                let q = block + 16 + 32 * half
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {  // the two 16-weight sub-blocks sharing this bit pair
                        let sc = block.load(fromByteOffset: subBlock, as: UInt8.self)
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
}
