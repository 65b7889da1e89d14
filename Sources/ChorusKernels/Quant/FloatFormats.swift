import ChorusGGUF

/// F32: plain little-endian floats.
public enum F32Format: QuantFormat {
    public static let type = GGMLType.f32
    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
    }
}

/// F16: IEEE half floats.
public enum F16Format: QuantFormat {
    public static let type = GGMLType.f16
    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = loadHalf(src, 2 * i) }
    }
}

/// BF16: the top 16 bits of an IEEE float.
public enum BF16Format: QuantFormat {
    public static let type = GGMLType.bf16
    public static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
        }
    }
}
