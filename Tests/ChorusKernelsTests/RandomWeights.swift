import CQuantBlocks
import ChorusGGUF
import ChorusKernels

/// Deterministic pseudo-random numbers (SplitMix64) so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random bytes for a matrix of `type` with sane (finite, small) half-float scales in each block.
func randomWeightBytes(_ type: GGMLType, rows: Int, columns: Int, rng: inout SplitMix) -> [UInt8] {
    let rowBytes = type.rowBytes(columns: columns)!
    var bytes = (0..<rows * rowBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
    let blocks = rows * columns / type.blockSize
    func putHalf(_ offset: Int, _ v: Float) {
        let h = floatToHalf(v)
        bytes[offset] = UInt8(h & 0xFF)
        bytes[offset + 1] = UInt8(h >> 8)
    }
    // The half-float scale fields (offsets from quant_blocks.h): d, then m or dmin where there is one.
    let fields = type.linearScaleOffsets ?? []
    for b in 0..<blocks {
        let base = b * type.bytesPerBlock
        switch type {
        case .q4_0, .q8_0, .q5_0: putHalf(base + fields[0], Float.random(in: -0.05...0.05, using: &rng))
        case .q4_1, .q5_1:
            putHalf(base + fields[0], Float.random(in: 0...0.05, using: &rng))
            putHalf(base + fields[1], Float.random(in: -0.1...0.1, using: &rng))
        case .q2_K, .q4_K, .q5_K:
            putHalf(base + fields[0], Float.random(in: 0...0.02, using: &rng))
            putHalf(base + fields[1], Float.random(in: 0...0.02, using: &rng))
        case .q3_K: putHalf(base + fields[0], Float.random(in: -0.02...0.02, using: &rng))
        case .q6_K: putHalf(base + fields[0], Float.random(in: -0.01...0.01, using: &rng))
        case .f16:
            putHalf(base, Float.random(in: -1...1, using: &rng))
        case .f32:
            let v = Float.random(in: -1...1, using: &rng).bitPattern
            for k in 0..<4 { bytes[base + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) }
        default: break
        }
        if type == .q8_0 {  // ggml's quantiser never writes -128
            let qs = base + MemoryLayout<ChorusBlockQ8_0>.offset(of: \.qs)!
            for k in 0..<32 where bytes[qs + k] == 0x80 { bytes[qs + k] = 0x81 }
        }
    }
    return bytes
}
