import CQuantBlocks
import ChorusGGUF

/// Q8_K (`ChorusQ8KBlock`): blocks of 256 values: d (f32), qs[256] (int8), bsums[16] (int16 sums of each 16
/// values, for the min terms of the dot products). Value = d * q. ggml uses it only for activations,
/// as Chorus does (`QuantizedActivations`).
public enum Q8_K: QuantFormat {
    public static let type = GGMLType.q8_K

    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<count / 256 {
            let block = src + b * blockBytes(ChorusQ8KBlock.self)
            let d = block.loadUnaligned(fromByteOffset: fieldOffset(\ChorusQ8KBlock.d), as: Float.self)
            for i in 0..<256 { dst[b * 256 + i] = d * Float(block.load(fromByteOffset: fieldOffset(\ChorusQ8KBlock.qs) + i, as: Int8.self)) }
        }
    }
}
