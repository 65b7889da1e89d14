import CChorusKernels
import ChorusGGUF

/// Q8_0: 34-byte blocks of 32 weights, d (f16) then 32 int8; weight = d * q.
public enum Q8_0: Int8DotFormat {
    public static let type = GGMLType.q8_0

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * 34
            let d = loadHalf(block, 0)
            for i in 0..<32 {
                dst[b * 32 + i] = d * Float(block.load(fromByteOffset: 2 + i, as: Int8.self))
            }
        }
    }

    /// Lanes of q * x, the integers ggml's sign trick (|q| times x with q's sign) produces.
    @inline(__always)
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float {
        var acc = LaneAccumulator()
        for b in 0..<blocks {
            let block = row + b * 34
            let q = loadBytes32(block + 2)
            acc.add(laneDotSigned(q, loadQs(x + b)), scale: loadHalf(block, 0) * x[b].d)
        }
        return acc.total
    }
}
