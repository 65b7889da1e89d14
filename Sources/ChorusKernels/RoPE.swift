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
    /// ggml's theta_scale = base^(-2/d); pair i's angle is position * theta_scale^i, built by
    /// repeated float multiplication exactly as ggml's rope cache does (so angles agree bit for bit).
    let thetaScale: Float
    let frequencyScale: Float

    public init(layout: Layout, dimensions: Int, base: Float, frequencyScale: Float = 1) {
        self.layout = layout
        self.dimensions = dimensions
        self.thetaScale = powf(base, -2 / Float(dimensions))
        self.frequencyScale = frequencyScale
    }

    /// cos and sin for every pair at `position`, into `table[0..<dimensions]` as (cos, sin) pairs.
    @inline(__always)
    public func angles(position: Int, into table: UnsafeMutablePointer<Float>) {
        var theta = Float(position)
        for i in 0..<dimensions / 2 {
            let angle = frequencyScale * theta
            table[2 * i] = cosf(angle)
            table[2 * i + 1] = sinf(angle)
            theta *= thetaScale
        }
    }

    /// Rotate one head vector `x[0..<dimensions]` in place using a table from `angles`.
    @inline(__always)
    public func rotate(_ x: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let c = table[2 * i], s = table[2 * i + 1]
            let (a, b) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
            let x0 = x[a], x1 = x[b]
            // ggml writes x0*c - x1*s and x0*s + x1*c; GCC fuses the first product of each, and
            // we do the same so rotated values agree with llama.cpp bit for bit.
            x[a] = (-(x1 * s)).addingProduct(x0, c)
            x[b] = (x1 * c).addingProduct(x0, s)
        }
    }

    /// The transpose of `rotate` (rotation by minus the angle): from the gradient of a rotated head,
    /// the gradient of the head before rotation, in place.
    @inline(__always)
    public func rotateBack(_ x: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>) {
        let half = dimensions / 2
        for i in 0..<half {
            let c = table[2 * i], s = table[2 * i + 1]
            let (a, b) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
            let y0 = x[a], y1 = x[b]
            x[a] = y0 * c + y1 * s
            x[b] = y1 * c - y0 * s
        }
    }
}
