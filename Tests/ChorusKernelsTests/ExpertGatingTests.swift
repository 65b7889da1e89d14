import ChorusKernels
import Foundation
import Testing

/// The router math of llama.cpp's build_moe_ffn (softmax gating), against closed forms.
@Suite struct ExpertGatingTests {
    func softmax(_ logits: [Float]) -> [Float] {
        var p = [Float](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { l in p.withUnsafeMutableBufferPointer { ExpertGating.softmax(l, into: $0) } }
        return p
    }

    func topK(_ values: [Float], _ k: Int) -> [Int] {
        var out = [Int32](repeating: -1, count: k)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBufferPointer { ExpertGating.topK(v, into: $0) } }
        return out.map(Int.init)
    }

    @Test func softmaxOfLogarithmsIsTheNormalisedArguments() {
        let q = softmax([Float(log(1.0)), Float(log(2.0)), Float(log(4.0)), Float(log(8.0))])
        for (got, want) in zip(q, [1.0, 2, 4, 8].map { $0 / 15 }) { #expect(abs(Double(got) - want) < 1e-7, "\(q)") }
        // Shift invariance (the maximum is subtracted first): huge logits do not overflow.
        let high: Float = 1000 + Float(log(3.0))
        let ratio = exp(Double(high - 1000))  // the exact difference of the two floats, about 3
        let r = softmax([1000, high])
        #expect(abs(Double(r[0]) - 1 / (1 + ratio)) < 1e-7 && abs(Double(r[1]) - ratio / (1 + ratio)) < 1e-7, "\(r)")
        #expect(softmax(Array(repeating: 0, count: 8)) == Array(repeating: 0.125, count: 8))
    }

    @Test func topKTakesTheLargestAndTheLowestIndexWinsTies() {
        #expect(topK([1, 3, 3, 2, 3], 2) == [1, 2])
        #expect(topK([1, 3, 3, 2, 3], 4) == [1, 2, 4, 3])
        #expect(topK([0, 0, 0, 0, 0, 0, 0, 0], 8) == Array(0..<8))
        #expect(topK([5, .nan, 7, -.infinity], 4) == [2, 0, 3, 1], "NaN ranks last")
        #expect(topK([-1, -2], 0) == [])
        // Against a stable sort on random values with many ties.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 1...64, using: &rng), k = Int.random(in: 0...n, using: &rng)
            let v = (0..<n).map { _ in Float(Int.random(in: 0..<5, using: &rng)) }
            let expected = v.indices.sorted { v[$0] != v[$1] ? v[$0] > v[$1] : $0 < $1 }.prefix(k)
            #expect(topK(v, k) == Array(expected), "\(v) top \(k)")
        }
    }

    @Test func routeRenormalisesForLlamaAndNotForQwen2MoE() {
        let logits = [1.0, 2, 3, 4].map { Float(log($0)) }
        let llama = ExpertGating.route(logits: logits, k: 2, renormalise: ExpertGating.renormalises(architecture: "llama")!)
        #expect(llama.experts == [3, 2])
        #expect(abs(Double(llama.weights[0]) - 4.0 / 7) < 1e-6 && abs(Double(llama.weights[1]) - 3.0 / 7) < 1e-6, "\(llama.weights)")
        let qwen = ExpertGating.route(logits: logits, k: 2, renormalise: ExpertGating.renormalises(architecture: "qwen2moe")!)
        #expect(qwen.experts == [3, 2])
        #expect(abs(Double(qwen.weights[0]) - 0.4) < 1e-6 && abs(Double(qwen.weights[1]) - 0.3) < 1e-6, "\(qwen.weights)")
        #expect(ExpertGating.renormalises(architecture: "qwen2") == nil)
        // The split model's zero router: every expert, weight 1/8 exactly, in index order.
        let zero = ExpertGating.route(logits: Array(repeating: 0, count: 8), k: 8, renormalise: true)
        #expect(zero.experts == Array(0..<8) && zero.weights == Array(repeating: 0.125, count: 8))
        // k = 1 renormalised is weight one; ties pick the lowest index.
        let single = ExpertGating.route(logits: [0.5, 2, 2, -1], k: 1, renormalise: true)
        #expect(single.experts == [1] && single.weights == [1])
    }

    @Test func sharedExpertGateIsTheSigmoid() {
        #expect(ExpertGating.sharedExpertGate(0) == 0.5)
        #expect(abs(ExpertGating.sharedExpertGate(Float(log(3.0))) - 0.75) < 1e-7)
        #expect(abs(ExpertGating.sharedExpertGate(-Float(log(3.0))) - 0.25) < 1e-7)
        #expect(ExpertGating.sigmoid(-200) == 0 && ExpertGating.sigmoid(200) == 1)
    }

    @Test func assignmentGroupsTokensPerExpertInTokenOrder() {
        let a = ExpertAssignment(selected: [1, 0, 1, 2, 0, 1], k: 2, experts: 4)
        #expect(a.tokens == [[0, 2], [0, 1, 2], [1], []])
        #expect(a.slots == [[1, 0], [0, 0, 1], [1], []])
    }
}
