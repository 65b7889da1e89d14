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
}

/// How the tree part of a token-tree batch's attention is combined with the committed prefix.
public enum TreeAttentionMode: Sendable {
    /// The sparse tree kernel continues each row's prefix state over the row's ancestors: the same
    /// operations in the same order as the causal path of the row's chain, so a tree row has the
    /// bits of its chain decoded alone (what greedy speculative decoding's equality relies on).
    case sequential
    /// Prefix and tree parts computed independently (separate regions, which could run on
    /// different compute units) and merged by log-sum-exp: equal to `sequential` up to rounding.
    case merged
    /// Reference for measurement: every row scores all batch rows up to itself and drops the
    /// masked ones (a dense masked attention), then continues as `sequential`; same bits as it.
    case denseMasked
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
}

/// Buffers of the merged mode: one prefix state and accumulator per (row, head).
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

extension Transformer {
    /// Attention of every (row, head) of a pass holding token trees: a tree row's dense prefix part
    /// (committed slots, in slot order) and sparse tree part (its ancestors only, `TreeRows`) are
    /// combined as `treeAttentionMode` says; rows of causal segments attend as `attend` does.
    /// `trees[i]` is segment i's tree (nil for a causal segment). A tree row's ancestors are rows of
    /// its own batch already in the cache: in this pass or in earlier rows of the batch (a pipeline
    /// micro-batch; parents precede children).
    func attendTree(rows n: Int, origins: [(segment: Int, row: Int)], segments: [PassSegment], trees: [TreeRows?], layer l: Int) {
        let c = config, s = scratch, hd = c.headDimension
        let window = c.slidingWindow[l]
        let units = n * c.headCount
        let mode = treeAttentionMode

        /// Query of (t, h), rounded to half as the causal path rounds it.
        @inline(__always) func query(_ t: Int, _ h: Int) -> UnsafeMutablePointer<Float> { s.q + t * c.queryWidth + h * hd }
        @inline(__always) func prefix(_ batch: Batch, _ batchRow: Int) -> Range<Int> {
            let lo = window.map { max(0, batch.positions[batchRow] - $0 + 1) } ?? 0
            return min(lo, batch.firstSlot)..<batch.firstSlot
        }
        @inline(__always) func visibleInWindow(_ batch: Batch, _ batchRow: Int, _ r: Int) -> Bool {
            window.map { batch.positions[batchRow] - batch.positions[r] < $0 } ?? true
        }
        /// The dense part of (t, h): the query rounded to half in place, `accumulator` cleared, the
        /// committed prefix visited in slot order.
        @inline(__always) func attendPrefix(_ t: Int, _ h: Int, accumulator: UnsafeMutablePointer<UInt16>) -> SoftmaxState {
            let segment = segments[origins[t].segment], cache = segment.cache
            let q = query(t, h)
            for i in 0..<hd { q[i] = halfToFloat(floatToHalf(q[i])) }
            let base = cache.offset(layer: l, head: h / c.gqaGroup, slot: 0)
            accumulator.initialize(repeating: 0, count: hd)
            var state = SoftmaxState()
            for slot in prefix(segment.batch, origins[t].row) {
                state.visit(slot, query: q, keys: cache.keys + base, values: cache.values + base, headDimension: hd,
                            scale: c.attentionScale, accumulator: accumulator)
            }
            return state
        }
        /// The sparse part of (t, h): the row's ancestors and itself, within the window.
        @inline(__always) func attendAncestors(_ t: Int, _ h: Int, tree: TreeRows, state: inout SoftmaxState,
                                               accumulator: UnsafeMutablePointer<UInt16>) {
            let (segment, batchRow) = (segments[origins[t].segment], origins[t].row)
            let batch = segment.batch, cache = segment.cache
            let base = cache.offset(layer: l, head: h / c.gqaGroup, slot: 0)
            for k in tree.starts[batchRow]..<tree.starts[batchRow + 1] {
                let r = Int(tree.rows[k])
                guard visibleInWindow(batch, batchRow, r) else { continue }
                state.visit(batch.firstSlot + r, query: query(t, h), keys: cache.keys + base, values: cache.values + base,
                            headDimension: hd, scale: c.attentionScale, accumulator: accumulator)
            }
        }
        /// (t, h) of a causal segment, as a pass without trees computes it.
        @inline(__always) func attendCausal(_ t: Int, _ h: Int, thread: Int) {
            let segment = segments[origins[t].segment]
            attend(row: t, head: h, batch: segment.batch, batchRow: origins[t].row, layer: l, cache: segment.cache, thread: thread)
        }

        /// Score every row of the batch up to this one, as a masked dense product would; fold in the visible ones.
        func denseMaskedAncestors(_ t: Int, _ h: Int, tree: TreeRows, state: inout SoftmaxState,
                                  accumulator: UnsafeMutablePointer<UInt16>) {
            let (segment, batchRow) = (segments[origins[t].segment], origins[t].row)
            let batch = segment.batch, cache = segment.cache
            let q = query(t, h)
            let base = cache.offset(layer: l, head: h / c.gqaGroup, slot: 0)
            let keys = cache.keys + base, values = cache.values + base
            let ancestors = tree.starts[batchRow]..<tree.starts[batchRow + 1]
            var k = ancestors.lowerBound
            for r in 0...batchRow {
                let slot = batch.firstSlot + r
                guard k < ancestors.upperBound, Int(tree.rows[k]) == r, visibleInWindow(batch, batchRow, r) else {
                    // Masked: scored and accumulated with weight 0 (leaves the half accumulator as it is).
                    let score = VectorOps.dot(q, half: keys + slot * hd, hd)
                    VectorOps.accumulateHalf(score.isNaN ? score : 0, values + slot * hd, into: accumulator, hd)
                    if k < ancestors.upperBound, Int(tree.rows[k]) == r { k += 1 }
                    continue
                }
                k += 1
                state.visit(slot, query: q, keys: keys, values: values, headDimension: hd, scale: c.attentionScale,
                            accumulator: accumulator)
            }
        }

        treeScratch.ensure(units: units, headDimension: hd)
        if mode == .merged {
            let states = treeScratch.states, prefixAccumulators = treeScratch.accumulators
            // Dense part: committed prefix of every tree (row, head); causal rows whole.
            pool.run(units, under: plan, op: .attention) { range, thread in
                for unit in range {
                    let t = unit / c.headCount, h = unit % c.headCount
                    guard trees[origins[t].segment] != nil else {
                        attendCausal(t, h, thread: thread)
                        continue
                    }
                    states[unit] = attendPrefix(t, h, accumulator: prefixAccumulators + unit * hd)
                }
            }
            // Sparse part: ancestors only, from a fresh state; merged with the prefix state.
            pool.run(units, under: plan, op: .attention) { range, thread in
                for unit in range {
                    let t = unit / c.headCount, h = unit % c.headCount
                    guard let tree = trees[origins[t].segment] else { continue }
                    let accumulator = s.headAccumulators + thread * s.headAccumulatorStride
                    accumulator.initialize(repeating: 0, count: hd)
                    var state = SoftmaxState()
                    attendAncestors(t, h, tree: tree, state: &state, accumulator: accumulator)
                    SoftmaxState.merge(states[unit], prefixAccumulators + unit * hd, state, accumulator, headDimension: hd,
                                       into: s.attention + t * c.queryWidth + h * hd)
                }
            }
            return
        }

        let accumulators = treeScratch.accumulators
        pool.run(units, under: plan, op: .attention) { range, thread in
            for unit in range {
                let t = unit / c.headCount, h = unit % c.headCount
                guard let tree = trees[origins[t].segment] else {
                    attendCausal(t, h, thread: thread)
                    continue
                }
                // One accumulator per unit: per-thread ones share a cache line between threads at their boundary.
                let accumulator = accumulators + unit * hd
                var state = attendPrefix(t, h, accumulator: accumulator)
                if mode == .denseMasked {
                    denseMaskedAncestors(t, h, tree: tree, state: &state, accumulator: accumulator)
                } else {
                    // Sparse tree part: the row's ancestors and itself only.
                    attendAncestors(t, h, tree: tree, state: &state, accumulator: accumulator)
                }
                let out = s.attention + t * c.queryWidth + h * hd
                let inverse = 1 / state.normaliser
                for i in 0..<hd { out[i] = halfToFloat(accumulator[i]) * inverse }
            }
        }

    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
