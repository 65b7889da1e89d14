import CChorusKernels
import ChorusGGUF

/// Q4_1: 20-byte blocks of 32 weights, d and m (f16) then 16 bytes of nibbles; weight = d * q + m.
public enum Q4_1: Int8DotFormat {
    public static let type = GGMLType.q4_1

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * 20
            let d = loadHalf(block, 0), m = loadHalf(block, 2)
            for i in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + i, as: UInt8.self)
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
            let block = row + b * 20
            let xb = x[b]
            acc.add(laneDot(unpackNibbles(block + 4), loadQs(x + b)), scale: loadHalf(block, 0) * xb.d)
            minTerm.addProduct(loadHalf(block, 2), xb.s)
        }
        return acc.total + minTerm
    }
}
