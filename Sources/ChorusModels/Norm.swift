import ChorusKernels

/// RMSNorm with a learned per-feature weight: y = x / sqrt(mean(x^2) + eps) * weight.
struct RMSNorm: Sendable {
    let weight: [Float]
    let epsilon: Float

    var count: Int { weight.count }

    /// y = norm(x) over `weight.count` features (`y` may be `x`).
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { VectorOps.rmsNorm(x, weight: $0.baseAddress!, eps: epsilon, count: $0.count, into: y) }
    }

    /// Each of `heads` consecutive vectors of `weight.count` features normalised in place (per-head Q/K norms).
    @inline(__always)
    func apply(heads: Int, _ x: UnsafeMutablePointer<Float>) {
        let n = weight.count
        weight.withUnsafeBufferPointer { w in
            for h in 0..<heads { VectorOps.rmsNorm(x + h * n, weight: w.baseAddress!, eps: epsilon, count: n, into: x + h * n) }
        }
    }
}

extension RMSNorm {
    /// Backward of `apply` on one vector: dx (+)= J^T dy with J the Jacobian of norm at x, i.e.
    /// dx = r (w * dy) - x r^3 / n * sum(x * w * dy), r = 1 / sqrt(mean(x^2) + eps) computed as the
    /// forward computes it. `accumulate` adds into dx (a residual stream's gradient); `dx` may be `dy` otherwise.
    func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let n = weight.count
        var squares = 0.0, projection = 0.0
        weight.withUnsafeBufferPointer { w in
            for i in 0..<n {
                squares += Double(x[i] * x[i])
                projection += Double(x[i]) * Double(w[i]) * Double(dy[i])
            }
            let mean = Float(squares / Double(n))
            let r = 1 / (mean + epsilon).squareRoot()
            let k = Float(Double(r) * Double(r) * Double(r) * projection / Double(n))
            for i in 0..<n {
                let g = r * w[i] * dy[i] - x[i] * k
                dx[i] = accumulate ? dx[i] + g : g
            }
        }
    }
}

/// The norms around a residual block, x += output(block(input(x))): the input norm and the optional
/// output (post-) norm applied to the block's result before the residual add (Gemma 3).
///
/// The runner fuses the residual add of one block and the input norm of the next in one parallel
/// region over rows (`addResidual(row:)` then `normalizeInput(row:)` per row), so the residual
/// stream is touched once between blocks and no region is spent on either alone.
struct ResidualNorms: Sendable {
    var input: RMSNorm
    var output: RMSNorm?

    /// x[t] += output(projected[t]) (`projected[t]` normalised in place first when there is an output norm).
    @inline(__always)
    func addResidual(row t: Int, in w: Workspace) {
        let d = w.width
        let x = w.x + t * d, p = w.projected + t * d
        output?.apply(p, into: p)
        VectorOps.add(p, into: x, d)
    }

    /// normed[t] = input(x[t]), quantised into `input` row t for the block's products.
    @inline(__always)
    func normalizeInput(row t: Int, in w: Workspace) {
        let d = w.width
        input.apply(w.x + t * d, into: w.normed + t * d)
        w.input.quantize(row: t, from: w.normed + t * d)
    }
}
