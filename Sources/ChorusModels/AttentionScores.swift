import ChorusKernels

/// The running state of one (row, head) of attention's online softmax: the largest score so far,
/// the normaliser (sum of exp(score - max)) and, outside this struct, the half-precision
/// accumulator of weighted values. Causal attention and both parts of tree attention advance it
/// with `visit`, the one place the update is written, so they round identically.
struct SoftmaxState {
    var runningMax = -Float.infinity
    var normaliser: Float = 0

    /// Fold slot `slot` in (llama.cpp's CPU flash-attention step): score, rescale on a new max,
    /// accumulate the value in half precision.
    @inline(__always)
    mutating func visit(_ slot: Int, query q: UnsafePointer<Float>, keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>,
                        headDimension hd: Int, scale: Float, accumulator: UnsafeMutablePointer<UInt16>) {
        let score = VectorOps.dot(q, half: keys + slot * hd, hd) * scale
        var oldScale: Float = 1, weight: Float = 1
        if score > runningMax {
            oldScale = expf(runningMax - score)
            runningMax = score
            VectorOps.scaleHalf(accumulator, by: oldScale, hd)
        } else {
            weight = expf(score - runningMax)
        }
        VectorOps.accumulateHalf(weight, values + slot * hd, into: accumulator, hd)
        normaliser = weight.addingProduct(normaliser, oldScale)  // fused, as GCC compiles ggml's S*ms + vs
    }

    /// softmax(...) v of the two disjoint slot sets two states were built from, by log-sum-exp:
    /// each side's accumulator and normaliser rescaled to the common max. Exact in real arithmetic;
    /// in floats it rounds differently from visiting the second set after the first.
    static func merge(_ a: SoftmaxState, _ accumulatorA: UnsafePointer<UInt16>, _ b: SoftmaxState,
                      _ accumulatorB: UnsafePointer<UInt16>, headDimension hd: Int, into out: UnsafeMutablePointer<Float>) {
        let m = max(a.runningMax, b.runningMax)
        let scaleA = a.normaliser > 0 ? expf(a.runningMax - m) : 0
        let scaleB = b.normaliser > 0 ? expf(b.runningMax - m) : 0
        let inverse = 1 / (a.normaliser * scaleA + b.normaliser * scaleB)
        for i in 0..<hd {
            out[i] = (halfToFloat(accumulatorA[i]) * scaleA + halfToFloat(accumulatorB[i]) * scaleB) * inverse
        }
    }

    /// out = accumulator / normaliser, the head's attention output.
    @inline(__always)
    func write(_ accumulator: UnsafePointer<UInt16>, headDimension hd: Int, into out: UnsafeMutablePointer<Float>) {
        let inverse = 1 / normaliser
        for i in 0..<hd { out[i] = halfToFloat(accumulator[i]) * inverse }
    }
}

/// The rows a tree batch's row attends to, computed once per forward pass (not per layer and
/// head): batch rows of its ancestors and itself, root first, flattened.
struct TreeRows {
    let rows: [Int32]
    let starts: [Int]

    init(parents: [Int]) {
        var rows: [Int32] = [], starts = [0]
        var chain: [Int32] = []
        for i in parents.indices {
            chain.removeAll(keepingCapacity: true)
            var node = i
            while node >= 0 {
                chain.append(Int32(node))
                node = parents[node]
            }
            rows.append(contentsOf: chain.reversed())
            starts.append(rows.count)
        }
        self.rows = rows
        self.starts = starts
    }

    /// Indices into `rows` of batch row `row`'s ancestors and itself.
    @inline(__always)
    func ancestors(of row: Int) -> Range<Int> { starts[row]..<starts[row + 1] }
}

/// Buffers of token-tree attention: one prefix state and accumulator per (row, head).
final class TreeAttentionScratch: @unchecked Sendable {
    private(set) var states: UnsafeMutablePointer<SoftmaxState>
    private(set) var accumulators: UnsafeMutablePointer<UInt16>
    private var capacity = 0

    init() {
        states = .allocate(capacity: 1)
        accumulators = .allocate(capacity: 1)
    }

    func ensure(units: Int, headDimension: Int) {
        guard units > capacity else { return }
        states.deallocate()
        accumulators.deallocate()
        states = .allocate(capacity: units)
        accumulators = .allocate(capacity: units * headDimension)
        capacity = units
    }

    deinit {
        states.deallocate()
        accumulators.deallocate()
    }
}

/// One layer's attention over one pass: what every (row, head) unit reads, and the pieces the
/// causal and tree paths are made of.
///
/// Computed as llama.cpp's CPU flash attention does, so results agree with it closely: the query
/// rounded to half, one pass over the visible slots in slot order with an online softmax, the
/// weighted values accumulated in half precision, divided by the normaliser at the end. A tree
/// row continues its committed prefix's state over its ancestors only (`TreeRows`).
struct AttentionScores {
    let block: Attention
    let pass: Pass
    let q: UnsafeMutablePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let hd: Int
    let group: Int

    init(_ block: Attention, _ pass: Pass) {
        self.block = block
        self.pass = pass
        q = pass.workspace.attention.q
        out = pass.workspace.attention.out
        hd = block.headDimension
        group = block.heads / block.kvHeads
    }

    /// Query of (t, h).
    @inline(__always) func query(_ t: Int, _ h: Int) -> UnsafeMutablePointer<Float> { q + t * block.queryWidth + h * hd }
    /// Output of (t, h).
    @inline(__always) func output(_ t: Int, _ h: Int) -> UnsafeMutablePointer<Float> { out + t * block.queryWidth + h * hd }

    /// Keys and values of (t, h)'s key/value head in its segment's cache, slot 0.
    @inline(__always)
    func cache(_ t: Int, _ h: Int) -> (batch: Batch, keys: UnsafePointer<UInt16>, values: UnsafePointer<UInt16>) {
        let segment = pass.segments[pass.origins[t].segment], cache = segment.cache
        let base = cache.offset(layer: block.layer, head: h / group, slot: 0)
        return (segment.batch, UnsafePointer(cache.keys + base), UnsafePointer(cache.values + base))
    }

    /// The query of (t, h) rounded to half in place.
    @inline(__always)
    func roundQuery(_ t: Int, _ h: Int) {
        let q = query(t, h)
        for i in 0..<hd { q[i] = halfToFloat(floatToHalf(q[i])) }
    }

    /// Causal (t, h): the committed prefix (within the window) and the batch rows up to this one,
    /// contiguous slots in slot order.
    @inline(__always)
    func causal(_ t: Int, _ h: Int, accumulator: UnsafeMutablePointer<UInt16>) {
        roundQuery(t, h)
        accumulator.initialize(repeating: 0, count: hd)
        let (batch, keys, values) = cache(t, h)
        let row = pass.origins[t].row
        let lo = block.window.map { max(0, batch.positions[row] - $0 + 1) } ?? 0
        let hi = batch.firstSlot + row + 1
        var state = SoftmaxState()
        for slot in min(lo, hi)..<hi {
            state.visit(slot, query: query(t, h), keys: keys, values: values, headDimension: hd, scale: block.scoreScale,
                        accumulator: accumulator)
        }
        state.write(accumulator, headDimension: hd, into: output(t, h))
    }

    /// The dense part of tree (t, h): the query rounded to half, `accumulator` cleared, the
    /// committed prefix (within the window) visited in slot order.
    @inline(__always)
    func prefix(_ t: Int, _ h: Int, accumulator: UnsafeMutablePointer<UInt16>) -> SoftmaxState {
        roundQuery(t, h)
        accumulator.initialize(repeating: 0, count: hd)
        let (batch, keys, values) = cache(t, h)
        let row = pass.origins[t].row
        let lo = block.window.map { max(0, batch.positions[row] - $0 + 1) } ?? 0
        var state = SoftmaxState()
        for slot in min(lo, batch.firstSlot)..<batch.firstSlot {
            state.visit(slot, query: query(t, h), keys: keys, values: values, headDimension: hd, scale: block.scoreScale,
                        accumulator: accumulator)
        }
        return state
    }

    /// Whether batch row `r` is within the window of batch row `row`.
    @inline(__always)
    func visible(_ batch: Batch, _ row: Int, _ r: Int) -> Bool {
        block.window.map { batch.positions[row] - batch.positions[r] < $0 } ?? true
    }

    /// The sparse part of tree (t, h): the row's ancestors and itself (all in the cache: in this
    /// pass or in earlier rows of the batch), within the window.
    @inline(__always)
    func ancestors(_ t: Int, _ h: Int, tree: TreeRows, state: inout SoftmaxState, accumulator: UnsafeMutablePointer<UInt16>) {
        let (batch, keys, values) = cache(t, h)
        let row = pass.origins[t].row
        for k in tree.ancestors(of: row) {
            let r = Int(tree.rows[k])
            guard visible(batch, row, r) else { continue }
            state.visit(batch.firstSlot + r, query: query(t, h), keys: keys, values: values, headDimension: hd,
                        scale: block.scoreScale, accumulator: accumulator)
        }
    }

    /// Reference for measurement: every batch row up to this one scored, as a masked dense
    /// product would; the visible ones folded in (the masked ones leave the accumulator as it is).
    func denseMasked(_ t: Int, _ h: Int, tree: TreeRows, state: inout SoftmaxState, accumulator: UnsafeMutablePointer<UInt16>) {
        let (batch, keys, values) = cache(t, h)
        let row = pass.origins[t].row, q = query(t, h)
        let ancestors = tree.ancestors(of: row)
        var k = ancestors.lowerBound
        for r in 0...row {
            let slot = batch.firstSlot + r
            guard k < ancestors.upperBound, Int(tree.rows[k]) == r, visible(batch, row, r) else {
                // Masked: scored and accumulated with weight 0.
                let score = VectorOps.dot(q, half: keys + slot * hd, hd)
                VectorOps.accumulateHalf(score.isNaN ? score : 0, values + slot * hd, into: accumulator, hd)
                if k < ancestors.upperBound, Int(tree.rows[k]) == r { k += 1 }
                continue
            }
            k += 1
            state.visit(slot, query: q, keys: keys, values: values, headDimension: hd, scale: block.scoreScale,
                        accumulator: accumulator)
        }
    }
}

extension Attention {
    /// Attention of every (row, head) of a pass without token trees.
    func attendCausal(_ pass: Pass) {
        let scores = AttentionScores(self, pass), s = pass.workspace.attention, heads = self.heads
        pass.run(pass.rows * heads, op: .attention) { range, thread in
            let accumulator = s.headAccumulators + thread * s.headAccumulatorStride
            for unit in range { scores.causal(unit / heads, unit % heads, accumulator: accumulator) }
        }
    }

    /// Attention of every (row, head) of a pass holding token trees: a tree row's dense prefix
    /// part and sparse ancestor part combined as the context's `treeAttention` mode says; rows of
    /// causal segments as `attendCausal` computes them.
    func attendTrees(_ pass: Pass) {
        let scores = AttentionScores(self, pass), s = pass.workspace.attention, heads = self.heads, hd = headDimension
        let units = pass.rows * heads, trees = pass.trees, origins = pass.origins
        s.tree.ensure(units: units, headDimension: hd)
        let states = s.tree.states, unitAccumulators = s.tree.accumulators
        let mode = pass.context.treeAttention
        // Dense part (all of sequential and dense-masked): prefix, then (not merged) the ancestors.
        pass.run(units, op: .attention) { range, thread in
            for unit in range {
                let t = unit / heads, h = unit % heads
                guard let tree = trees[origins[t].segment] else {
                    scores.causal(t, h, accumulator: s.headAccumulators + thread * s.headAccumulatorStride)
                    continue
                }
                // One accumulator per unit: per-thread ones share a cache line between threads at their boundary.
                let accumulator = unitAccumulators + unit * hd
                var state = scores.prefix(t, h, accumulator: accumulator)
                switch mode {
                case .merged:
                    states[unit] = state
                    continue
                case .denseMasked: scores.denseMasked(t, h, tree: tree, state: &state, accumulator: accumulator)
                case .sequential: scores.ancestors(t, h, tree: tree, state: &state, accumulator: accumulator)
                }
                state.write(accumulator, headDimension: hd, into: scores.output(t, h))
            }
        }
        guard mode == .merged else { return }
        // Sparse part of merged: ancestors only, from a fresh state; merged with the prefix state.
        pass.run(units, op: .attention) { range, thread in
            for unit in range {
                let t = unit / heads, h = unit % heads
                guard let tree = trees[origins[t].segment] else { continue }
                let accumulator = s.headAccumulators + thread * s.headAccumulatorStride
                accumulator.initialize(repeating: 0, count: hd)
                var state = SoftmaxState()
                scores.ancestors(t, h, tree: tree, state: &state, accumulator: accumulator)
                SoftmaxState.merge(states[unit], unitAccumulators + unit * hd, state, accumulator, headDimension: hd,
                                   into: scores.output(t, h))
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
