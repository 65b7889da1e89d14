import ChorusGGUF

/// Float products through a weight matrix expanded to f32 tile by tile, for training: the forward
/// y = W x and the input gradient dx = W^T dy of a frozen (quantised) weight, with f32 activations
/// and gradients (no int8 quantisation of either), as a QLoRA-style trainer computes them.
///
/// Every output element is reduced by one thread in one fixed order (the forward: eight lanes over
/// the columns, then a fixed tree; the transposed product: the weight rows in ascending order), so
/// results do not depend on the thread count, the split of rows or columns, or the batch blocking.
public enum FloatProducts {
    /// Weight rows expanded per tile of the forward product.
    static let forwardTile = 16
    /// Weight rows expanded per tile of the transposed product.
    static let transposedTile = 32

    /// y[t * yStride + r] = sum over c of W[r][c] * x[t * xStride + c], for weight rows `rows` and
    /// activation rows t in 0..<n.
    public static func multiply(_ w: WeightMatrix, _ x: UnsafePointer<Float>, xStride: Int, rows n: Int,
                                into y: UnsafeMutablePointer<Float>, yStride: Int, outputs: Range<Int>) {
        guard n > 0, !outputs.isEmpty, let format = quantFormat(for: w.type) else { return }
        let c = w.columns
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: forwardTile * c)
        defer { tile.deallocate() }
        var r0 = outputs.lowerBound
        while r0 < outputs.upperBound {
            let count = min(forwardTile, outputs.upperBound - r0)
            for i in 0..<count { format.dequantize(w.row(r0 + i), into: tile + i * c, count: c) }
            var t = 0
            while t + 4 <= n {
                var r = 0
                while r + 2 <= count {
                    dots4x2(x + t * xStride, xStride, tile + r * c, c, into: y + t * yStride + r0 + r, yStride)
                    r += 2
                }
                if r < count {
                    for k in 0..<4 { y[(t + k) * yStride + r0 + r] = dot(x + (t + k) * xStride, tile + r * c, c) }
                }
                t += 4
            }
            while t < n {
                for r in 0..<count { y[t * yStride + r0 + r] = dot(x + t * xStride, tile + r * c, c) }
                t += 1
            }
            r0 += count
        }
    }

    /// Columns a transposed product's column ranges must be whole multiples of (the weight type's block).
    public static func columnGrain(_ w: WeightMatrix) -> Int { max(8, w.type.blockSize) }

    /// dx[t * dxStride + c] (+)= sum over weight rows r of W[r][c] * dy[t * dyStride + r], for columns
    /// `columns` (whole blocks of `columnGrain`, or up to the last column) and rows t in 0..<n. With
    /// `accumulate` the sums start from dx's values; otherwise from zero.
    ///
    /// The sum over r is taken in three levels, each in ascending order: within a tile of
    /// `transposedTile` rows, tiles within a group of `transposedGroup` rows, groups into dx. An output
    /// head's gradient sums ~50,000 terms with much cancellation (softmax minus one-hot), which a single
    /// f32 running sum would round to about 1e-4 relative; the levels keep it near 1e-5.
    public static func multiplyTransposed(_ w: WeightMatrix, _ dy: UnsafePointer<Float>, dyStride: Int, rows n: Int,
                                          into dx: UnsafeMutablePointer<Float>, dxStride: Int, columns: Range<Int>, accumulate: Bool) {
        guard n > 0, !columns.isEmpty, let format = quantFormat(for: w.type) else { return }
        let width = columns.count, block = w.type.blockSize
        precondition(columns.lowerBound % block == 0, "transposed product columns must start on a block boundary")
        let source = w.type.rowBytes(columns: columns.lowerBound)!
        let expanded = (width + block - 1) / block * block
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: transposedTile * expanded)
        let tileSum = UnsafeMutablePointer<Float>.allocate(capacity: n * width), groupSum = UnsafeMutablePointer<Float>.allocate(capacity: n * width)
        defer {
            tile.deallocate()
            tileSum.deallocate()
            groupSum.deallocate()
        }
        if !accumulate {
            for t in 0..<n { (dx + t * dxStride + columns.lowerBound).update(repeating: 0, count: width) }
        }
        for g0 in stride(from: 0, to: w.rows, by: transposedGroup) {
            groupSum.update(repeating: 0, count: n * width)
            for r0 in stride(from: g0, to: min(w.rows, g0 + transposedGroup), by: transposedTile) {
                let count = min(transposedTile, w.rows - r0)
                for i in 0..<count { format.dequantize(w.row(r0 + i) + source, into: tile + i * expanded, count: expanded) }
                tileSum.update(repeating: 0, count: n * width)
                var t = 0
                while t + 4 <= n {
                    axpys4(dy + t * dyStride + r0, dyStride, tile, expanded, rows: count, into: tileSum + t * width, width, width: width)
                    t += 4
                }
                while t < n {
                    axpys1(dy + t * dyStride + r0, tile, expanded, rows: count, into: tileSum + t * width, width: width)
                    t += 1
                }
                add(tileSum, into: groupSum, n * width)
            }
            for t in 0..<n { add(groupSum + t * width, into: dx + t * dxStride + columns.lowerBound, width) }
        }
    }

    /// Rows summed before their sum joins dx (`multiplyTransposed`).
    static let transposedGroup = 1024

    /// y[i] += x[i].
    @inline(__always)
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }

    // MARK: - micro-kernels

    /// Sum of the eight lanes in a fixed tree.
    @inline(__always)
    static func reduce(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
    }

    /// One dot product in the order every kernel here uses: eight lanes over c, the fixed tree, then the tail.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc.addProduct(load(a, i), load(b, i))
            i += 8
        }
        var sum = reduce(acc)
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// Eight dot products (four activation rows x two weight rows), each exactly as `dot`.
    @inline(__always)
    static func dots4x2(_ x: UnsafePointer<Float>, _ xs: Int, _ w: UnsafePointer<Float>, _ c: Int,
                       into y: UnsafeMutablePointer<Float>, _ ys: Int) {
        var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a10 = SIMD8<Float>(), a11 = SIMD8<Float>()
        var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a30 = SIMD8<Float>(), a31 = SIMD8<Float>()
        let w1 = w + c
        var i = 0
        while i + 8 <= c {
            let u = load(w, i), v = load(w1, i)
            let x0 = load(x, i), x1 = load(x + xs, i), x2 = load(x + 2 * xs, i), x3 = load(x + 3 * xs, i)
            a00.addProduct(x0, u); a01.addProduct(x0, v)
            a10.addProduct(x1, u); a11.addProduct(x1, v)
            a20.addProduct(x2, u); a21.addProduct(x2, v)
            a30.addProduct(x3, u); a31.addProduct(x3, v)
            i += 8
        }
        store(a00, a01, x, w, w1, i, c, into: y)
        store(a10, a11, x + xs, w, w1, i, c, into: y + ys)
        store(a20, a21, x + 2 * xs, w, w1, i, c, into: y + 2 * ys)
        store(a30, a31, x + 3 * xs, w, w1, i, c, into: y + 3 * ys)
    }

    /// y[0], y[1] = the two dot products of one activation row ending in `a`, `b` at column `i`, with their tails.
    @inline(__always)
    static func store(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ w1: UnsafePointer<Float>,
                      _ i: Int, _ c: Int, into y: UnsafeMutablePointer<Float>) {
        var s0 = reduce(a), s1 = reduce(b)
        var j = i
        while j < c {
            s0 += x[j] * w[j]
            s1 += x[j] * w1[j]
            j += 1
        }
        y[0] = s0
        y[1] = s1
    }

    /// dx[k][0..<width] += sum over r of dy[k][r] * tile[r][...] for four activation rows k, r ascending.
    @inline(__always)
    static func axpys4(_ dy: UnsafePointer<Float>, _ dys: Int, _ tile: UnsafePointer<Float>, _ stride: Int, rows: Int,
                       into dx: UnsafeMutablePointer<Float>, _ dxs: Int, width: Int) {
        let out = UnsafeMutableRawPointer(dx)
        var c = 0
        while c + 16 <= width {
            var a0 = load(dx, c), b0 = load(dx, c + 8), a1 = load(dx + dxs, c), b1 = load(dx + dxs, c + 8)
            var a2 = load(dx + 2 * dxs, c), b2 = load(dx + 2 * dxs, c + 8), a3 = load(dx + 3 * dxs, c), b3 = load(dx + 3 * dxs, c + 8)
            for r in 0..<rows {
                let u = load(tile + r * stride, c), v = load(tile + r * stride, c + 8)
                let g0 = SIMD8<Float>(repeating: dy[r]), g1 = SIMD8<Float>(repeating: dy[dys + r])
                let g2 = SIMD8<Float>(repeating: dy[2 * dys + r]), g3 = SIMD8<Float>(repeating: dy[3 * dys + r])
                a0.addProduct(g0, u); b0.addProduct(g0, v)
                a1.addProduct(g1, u); b1.addProduct(g1, v)
                a2.addProduct(g2, u); b2.addProduct(g2, v)
                a3.addProduct(g3, u); b3.addProduct(g3, v)
            }
            out.storeBytes(of: a0, toByteOffset: 4 * c, as: SIMD8<Float>.self)
            out.storeBytes(of: b0, toByteOffset: 4 * (c + 8), as: SIMD8<Float>.self)
            out.storeBytes(of: a1, toByteOffset: 4 * (dxs + c), as: SIMD8<Float>.self)
            out.storeBytes(of: b1, toByteOffset: 4 * (dxs + c + 8), as: SIMD8<Float>.self)
            out.storeBytes(of: a2, toByteOffset: 4 * (2 * dxs + c), as: SIMD8<Float>.self)
            out.storeBytes(of: b2, toByteOffset: 4 * (2 * dxs + c + 8), as: SIMD8<Float>.self)
            out.storeBytes(of: a3, toByteOffset: 4 * (3 * dxs + c), as: SIMD8<Float>.self)
            out.storeBytes(of: b3, toByteOffset: 4 * (3 * dxs + c + 8), as: SIMD8<Float>.self)
            c += 16
        }
        if c < width {
            for k in 0..<4 { axpys1(dy + k * dys, tile + c, stride, rows: rows, into: dx + k * dxs + c, width: width - c) }
        }
    }

    /// dx[0..<width] += sum over r of dy[r] * tile[r][...], r ascending, for one activation row.
    @inline(__always)
    static func axpys1(_ dy: UnsafePointer<Float>, _ tile: UnsafePointer<Float>, _ stride: Int, rows: Int,
                       into dx: UnsafeMutablePointer<Float>, width: Int) {
        let out = UnsafeMutableRawPointer(dx)
        var c = 0
        while c + 8 <= width {
            var a = load(dx, c)
            for r in 0..<rows { a.addProduct(SIMD8<Float>(repeating: dy[r]), load(tile + r * stride, c)) }
            out.storeBytes(of: a, toByteOffset: 4 * c, as: SIMD8<Float>.self)
            c += 8
        }
        while c < width {
            var a = dx[c]
            for r in 0..<rows { a = a.addingProduct(dy[r], tile[r * stride + c]) }
            dx[c] = a
            c += 1
        }
    }
}
