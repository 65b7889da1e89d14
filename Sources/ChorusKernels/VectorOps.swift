/// Float vector kernels on contiguous rows, vectorised with SIMD8 (AVX2 / two NEON registers).
/// Reductions use a fixed lane order so a row's result never depends on its neighbours.
public enum VectorOps {
    /// Sum of a[i] * b[i] for i in 0..<n: eight lanes, then a fixed reduction tree.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= n {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self),
                            rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
            acc1.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self),
                            rb.loadUnaligned(fromByteOffset: 4 * i + 32, as: SIMD8<Float>.self))
            i += 16
        }
        while i + 8 <= n {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self),
                            rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
            i += 8
        }
        var sum = (acc0 + acc1).sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Sum of a[i] * h[i] where h holds half floats (keys in the KV cache), in the order of ggml's
    /// `ggml_vec_dot_f16` on an AVX2 build (the reference llama.cpp's): four 8-lane accumulators over
    /// runs of 32, folded (0+2, 1+3, then 0+1), halves added, two horizontal adds; the tail added
    /// in double. A fixed order, so results are the same on every machine.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, half h: UnsafePointer<UInt16>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rh = UnsafeRawPointer(h)
        let whole = n & ~31
        var i = 0
        @inline(__always) func load(_ k: Int) -> (SIMD8<Float>, SIMD8<Float>) {
            (ra.loadUnaligned(fromByteOffset: 4 * k, as: SIMD8<Float>.self),
             SIMD8<Float>(rh.loadUnaligned(fromByteOffset: 2 * k, as: SIMD8<Float16>.self)))
        }
        while i < whole {
            var (x, y) = load(i); s0.addProduct(y, x)
            (x, y) = load(i + 8); s1.addProduct(y, x)
            (x, y) = load(i + 16); s2.addProduct(y, x)
            (x, y) = load(i + 24); s3.addProduct(y, x)
            i += 32
        }
        s0 += s2
        s1 += s3
        s0 += s1
        let t = s0.lowHalf + s0.highHalf
        var sum = Double((t[0] + t[1]) + (t[2] + t[3]))
        while i < n {
            sum += Double(a[i] * halfToFloat(h[i]))
            i += 1
        }
        return Float(sum)
    }

    /// y[i] += a * h[i] where h holds half floats (values in the KV cache).
    @inline(__always)
    public static func axpy(_ a: Float, half h: UnsafePointer<UInt16>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        let rh = UnsafeRawPointer(h), ry = UnsafeMutableRawPointer(y)
        while i + 8 <= n {
            var vy = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            vy.addProduct(va, SIMD8<Float>(rh.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)))
            ry.storeBytes(of: vy, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            y[i] += a * halfToFloat(h[i])
            i += 1
        }
    }

    /// acc[i] = half(acc[i] + a * h[i]) with acc and h in half floats: the value accumulation of
    /// ggml's CPU flash attention (`ggml_vec_mad_f16`), fused multiply-add then rounding.
    @inline(__always)
    public static func accumulateHalf(_ a: Float, _ h: UnsafePointer<UInt16>, into acc: UnsafeMutablePointer<UInt16>, _ n: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        let rh = UnsafeRawPointer(h), racc = UnsafeMutableRawPointer(acc)
        while i + 8 <= n {
            var y = SIMD8<Float>(racc.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self))
            y.addProduct(SIMD8<Float>(rh.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)), va)
            racc.storeBytes(of: SIMD8<Float16>(y), toByteOffset: 2 * i, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < n {
            acc[i] = floatToHalf(halfToFloat(acc[i]).addingProduct(halfToFloat(h[i]), a))
            i += 1
        }
    }

    /// acc[i] = half(acc[i] * a) on a half-float accumulator (`ggml_vec_scale_f16`).
    @inline(__always)
    public static func scaleHalf(_ acc: UnsafeMutablePointer<UInt16>, by a: Float, _ n: Int) {
        var i = 0
        let r = UnsafeMutableRawPointer(acc)
        let va = SIMD8<Float>(repeating: a)
        while i + 8 <= n {
            let v = SIMD8<Float>(r.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)) * va
            r.storeBytes(of: SIMD8<Float16>(v), toByteOffset: 2 * i, as: SIMD8<Float16>.self)
            i += 8
        }
        while i < n {
            acc[i] = floatToHalf(halfToFloat(acc[i]) * a)
            i += 1
        }
    }

    /// Round floats to the nearest half float and back (what storing them as F16 does).
    @inline(__always)
    public static func roundToHalf(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<UInt16>, _ n: Int) {
        for i in 0..<n { y[i] = floatToHalf(x[i]) }
    }

    /// Sum of squares of x[0..<n].
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float { dot(x, x, n) }

    /// out = x / sqrt(mean(x^2) + eps) * weight (weight may be nil: plain normalisation).
    /// `weightOffset` is added to each weight (Gemma stores weight - 1 in some exports; 0 otherwise).
    /// The sum of squares is taken in double precision, as ggml does, so the scale agrees with llama.cpp.
    @inline(__always)
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, eps: Float, count n: Int,
                               into out: UnsafeMutablePointer<Float>) {
        // Squares in float, summed in double (four lanes: the float mean it yields is the same).
        var acc = SIMD4<Double>()
        var i = 0
        let rx = UnsafeRawPointer(x)
        while i + 4 <= n {
            let v = rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD4<Float>.self)
            acc += SIMD4<Double>(v * v)
            i += 4
        }
        var sum = acc.sum()
        while i < n {
            sum += Double(x[i] * x[i])
            i += 1
        }
        let mean = Float(sum / Double(n))
        let scale = 1 / (mean + eps).squareRoot()
        let vs = SIMD8<Float>(repeating: scale)
        let ro = UnsafeMutableRawPointer(out)
        i = 0
        if let weight {
            let rw = UnsafeRawPointer(weight)
            while i + 8 <= n {
                let v = rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * vs
                ro.storeBytes(of: v * rw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), toByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n {
                out[i] = x[i] * scale * weight[i]
                i += 1
            }
        } else {
            while i + 8 <= n {
                ro.storeBytes(of: rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * vs, toByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n {
                out[i] = x[i] * scale
                i += 1
            }
        }
    }

    /// y[i] += x[i]
    @inline(__always)
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while i + 8 <= n {
            let v = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) + rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            ry.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            y[i] += x[i]
            i += 1
        }
    }

    /// y[i] += a * x[i]
    @inline(__always)
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let va = SIMD8<Float>(repeating: a)
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
        while i + 8 <= n {
            var vy = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            vy.addProduct(va, rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
            ry.storeBytes(of: vy, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }

    /// In-place softmax of x[0..<n]; returns the log of the normaliser (max + log(sum)), which
    /// lets partial softmaxes be merged exactly (log-sum-exp).
    @inline(__always)
    @discardableResult
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - m)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
        return m + logf(sum)
    }

    /// SiLU-gated unit: gate[i] = silu(gate[i]) * up[i] (SwiGLU's element-wise part), with ggml's
    /// vector SiLU on groups of eight and libm's expf on the tail, as ggml_vec_swiglu_f32 does.
    @inline(__always)
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        let rg = UnsafeMutableRawPointer(gate), ru = UnsafeRawPointer(up)
        while i + 8 <= n {
            let g = rg.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            let u = ru.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            rg.storeBytes(of: VectorExp.silu(g) * u, toByteOffset: 4 * i, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
            i += 1
        }
    }

    /// GELU (tanh approximation)-gated unit: gate[i] = gelu(gate[i]) * up[i] (GeGLU, Gemma), with
    /// ggml's half-float GELU table.
    @inline(__always)
    public static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
        GELUTable.values.withUnsafeBufferPointer { table in
            for i in 0..<n {
                let x = gate[i]
                if x <= -10 {
                    gate[i] = 0
                } else if x >= 10 {
                    gate[i] = x * up[i]
                } else {
                    gate[i] = halfToFloat(table[Int(floatToHalf(x))]) * up[i]
                }
            }
        }
    }

    /// Index of the largest value, the first on ties (the greedy sampler's choice).
    public static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = -Float.infinity
        for (i, v) in values.enumerated() where v > bestValue {
            best = i
            bestValue = v
        }
        return best
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
