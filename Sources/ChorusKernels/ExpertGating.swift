#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The router of a mixture-of-experts layer, as llama.cpp's `build_moe_ffn` computes it with softmax
/// gating: probabilities = softmax(router logits), the k most probable experts, and their
/// probabilities as weights, renormalised to sum to one where the architecture does so (llama and
/// Mixtral-style files yes, qwen2moe no). qwen2moe's shared expert is scaled by the sigmoid of its own
/// gate logit. Pure functions of their inputs: no state, no allocation in the pointer forms.
public enum ExpertGating {
    /// llama.cpp's clamp of the weight sum before renormalising (the smallest normal half float).
    public static let minimumWeightSum: Float = 6.103515625e-5

    /// Whether `architecture` (`general.architecture`) renormalises its top-k weights: true for llama
    /// (Mixtral, OLMoE-style layouts), false for qwen2moe; nil for an architecture without this routing.
    public static func renormalises(architecture: String) -> Bool? {
        switch architecture {
        case "llama": return true
        case "qwen2moe": return false
        default: return nil
        }
    }

    /// `probabilities[i] = exp(logits[i] - max) / sum_j exp(logits[j] - max)`, the sum taken in index
    /// order in double precision and applied as one reciprocal, as ggml's soft_max.
    public static func softmax(_ logits: UnsafeBufferPointer<Float>, into probabilities: UnsafeMutableBufferPointer<Float>) {
        precondition(probabilities.count == logits.count, "softmax of \(logits.count) logits into \(probabilities.count)")
        guard let first = logits.first else { return }
        let maximum = logits.reduce(first) { Swift.max($0, $1) }
        var sum = 0.0
        for i in logits.indices {
            let e = expf(logits[i] - maximum)
            probabilities[i] = e
            sum += Double(e)
        }
        let scale = Float(1 / sum)
        for i in probabilities.indices { probabilities[i] *= scale }
    }

    /// The indices of the `indices.count` largest `values`, largest first; equal values in index order
    /// (the lowest index wins a tie, as llama.cpp's argsort, whose std::sort is an insertion sort, stable,
    /// for the 16 or fewer experts of the models it runs). NaN ranks below every number.
    public static func topK(_ values: UnsafeBufferPointer<Float>, into indices: UnsafeMutableBufferPointer<Int32>) {
        let k = indices.count
        precondition(k <= values.count, "top \(k) of \(values.count) values")
        func before(_ a: Int, _ b: Int) -> Bool {
            let x = values[a], y = values[b]
            if x.isNaN || y.isNaN { return !x.isNaN && y.isNaN || (x.isNaN == y.isNaN && a < b) }
            return x > y || (x == y && a < b)
        }
        // Insertion into a sorted prefix of length <= k: O(n k), no allocation.
        var filled = 0
        for i in values.indices {
            var position = filled
            while position > 0 && before(i, Int(indices[position - 1])) { position -= 1 }
            guard position < k else { continue }
            var j = Swift.min(filled, k - 1)
            while j > position { indices[j] = indices[j - 1]; j -= 1 }
            indices[position] = Int32(i)
            filled = Swift.min(filled + 1, k)
        }
    }

    /// One token's routing: `experts.count` (k) experts picked from the router `logits` by softmax and
    /// top-k, into `experts` (most probable first) and their weights into `weights`; with `renormalise`
    /// the weights are divided by their sum (clamped below at `minimumWeightSum`). `probabilities` is
    /// scratch of `logits.count` floats.
    public static func route(logits: UnsafeBufferPointer<Float>, renormalise: Bool, probabilities: UnsafeMutableBufferPointer<Float>,
                             experts: UnsafeMutableBufferPointer<Int32>, weights: UnsafeMutableBufferPointer<Float>) {
        precondition(weights.count == experts.count, "\(experts.count) experts, \(weights.count) weights")
        softmax(logits, into: probabilities)
        topK(UnsafeBufferPointer(probabilities), into: experts)
        for slot in experts.indices { weights[slot] = probabilities[Int(experts[slot])] }
        guard renormalise else { return }
        var sum: Float = 0
        for w in weights { sum += w }
        sum = Swift.max(sum, minimumWeightSum)
        for slot in weights.indices { weights[slot] /= sum }
    }

    /// `route` on arrays: the k experts (most probable first) and their weights.
    public static func route(logits: [Float], k: Int, renormalise: Bool) -> (experts: [Int], weights: [Float]) {
        var probabilities = [Float](repeating: 0, count: logits.count)
        var experts = [Int32](repeating: 0, count: k)
        var weights = [Float](repeating: 0, count: k)
        logits.withUnsafeBufferPointer { l in
            probabilities.withUnsafeMutableBufferPointer { p in
                experts.withUnsafeMutableBufferPointer { e in
                    weights.withUnsafeMutableBufferPointer { w in route(logits: l, renormalise: renormalise, probabilities: p, experts: e, weights: w) }
                }
            }
        }
        return (experts.map(Int.init), weights)
    }

    /// 1 / (1 + exp(-x)).
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// qwen2moe's shared-expert scale: the sigmoid of the `ffn_gate_inp_shexp` product for the token
    /// (llama.cpp computes it as silu(x) / x, the same function).
    @inline(__always)
    public static func sharedExpertGate(_ logit: Float) -> Float { sigmoid(logit) }
}

/// Which tokens go to which expert: the top-k choices of a batch regrouped per expert, each expert's
/// tokens in token order. Deterministic, so a grouped product and its combine never depend on
/// scheduling; a token's slot says where its expert's output is weighted back in.
public struct ExpertAssignment: Sendable, Equatable {
    /// Experts of the layer.
    public let experts: Int
    /// `tokens[e]`: the tokens routed to expert e, ascending.
    public let tokens: [[Int]]
    /// `slots[e][i]`: which of token `tokens[e][i]`'s k choices picked e.
    public let slots: [[Int]]

    /// - Parameter selected: token t's k experts at `selected[t * k ..< (t + 1) * k]`.
    public init(selected: [Int32], k: Int, experts: Int) {
        precondition(k > 0 && selected.count % k == 0, "\(selected.count) choices are not whole tokens of \(k)")
        var tokens = [[Int]](repeating: [], count: experts)
        var slots = [[Int]](repeating: [], count: experts)
        for (index, expert) in selected.enumerated() {
            let e = Int(expert)
            precondition(e >= 0 && e < experts, "expert \(e) of \(experts)")
            tokens[e].append(index / k)
            slots[e].append(index % k)
        }
        self.experts = experts
        self.tokens = tokens
        self.slots = slots
    }
}
