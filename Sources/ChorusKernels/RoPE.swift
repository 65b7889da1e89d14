#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding tables and rotation, in ggml's two layouts.
///
/// `.interleaved` (ggml mode 0, llama): pairs (x[2i], x[2i+1]); `.neox` (mode 2, qwen2, gemma3):
/// pairs (x[i], x[i + d/2]). Angle for pair i at position p: p * base^(-2i/d) (times a frequency
/// scale for linear RoPE scaling).
public struct RoPE: Sendable {
    public enum Layout: Sendable { case interleaved, neox }

    public let layout: Layout
    public let dimensions: Int
    /// inverse frequencies, one per pair
    let inverseFrequencies: [Float]

    public init(layout: Layout, dimensions: Int, base: Float, frequencyScale: Float = 1) {
        self.layout = layout
        self.dimensions = dimensions
        inverseFrequencies = (0..<dimensions / 2).map { i in
            frequencyScale * Float(pow(Double(base), -2 * Double(i) / Double(dimensions)))
        }
    }

    /// Rotate one head vector `x[0..<dimensions]` in place for `position`.
    @inline(__always)
    public func rotate(_ x: UnsafeMutablePointer<Float>, position: Int) {
        let half = dimensions / 2
        inverseFrequencies.withUnsafeBufferPointer { freqs in
            for i in 0..<half {
                let theta = Float(position) * freqs[i]
                let c = cosf(theta), s = sinf(theta)
                let (a, b) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                let x0 = x[a], x1 = x[b]
                x[a] = x0 * c - x1 * s
                x[b] = x0 * s + x1 * c
            }
        }
    }
}
