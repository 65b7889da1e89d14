import ChorusModels
import ChorusTraining
import ChorusTrainingTestSupport
import Foundation
import Testing

/// The tiny model's hand-written backward (input gradient B and weight gradient W, split over parts)
/// against central finite differences of an independent float64 forward.
@Suite struct FiniteDifferenceTests {
    /// Loss of the micro-batches in float64, from the parameters' current values (w, b per layer).
    static func loss(_ stack: TinyStack, _ batches: [TinyBatch], lossScale: Double, override: (name: String, index: Int, value: Double)? = nil) -> Double {
        let width = stack.width
        var total = 0.0
        for batch in batches {
            var x = batch.inputs.map(Double.init)
            for layer in 0..<stack.layerCount {
                let (w, b) = stack.weights[layer]!
                func value(_ p: Parameter, _ i: Int) -> Double {
                    if let o = override, o.name == p.name, o.index == i { return o.value }
                    return Double(p.values[i])
                }
                var y = [Double](repeating: 0, count: x.count)
                for r in 0..<batch.rows {
                    for j in 0..<width {
                        var z = value(b, j)
                        for i in 0..<width { z += value(w, j * width + i) * x[r * width + i] }
                        y[r * width + j] = tanh(z)
                    }
                }
                x = y
            }
            for i in 0..<x.count { total += 0.5 * (x[i] - Double(batch.targets[i])) * (x[i] - Double(batch.targets[i])) }
        }
        return total * lossScale
    }

    @Test func splitBackwardMatchesFiniteDifferences() throws {
        let stack = TinyStack(width: 4, layers: 6, parts: 3, seed: 3)
        let batches = (0..<2).map { TinyBatch.make(index: $0, rows: 3, width: 4, seed: 5) }
        let scale: Float = 1 / 6
        // Forward parts 0, 1, 2 per micro-batch, then B of parts 2, 1, 0, with every W deferred to the end.
        var deferred: [(TinyBatch, Int, TinyStack.WeightInputs)] = []
        for batch in batches {
            var stored: [TinyStack.Activations] = []
            var boundary: [Float]? = nil
            for part in 0..<3 {
                var output = [Float](repeating: 0, count: batch.rows * 4)
                let result = try boundary.map { input in
                    try input.withUnsafeBufferPointer { inp in
                        try output.withUnsafeMutableBufferPointer { out in try stack.forward(batch, part: part, input: inp, output: part < 2 ? out : nil) }
                    }
                } ?? output.withUnsafeMutableBufferPointer { out in try stack.forward(batch, part: part, input: nil, output: out) }
                stored.append(result.activations)
                boundary = output
            }
            var gradient: [Float]? = nil
            for part in stride(from: 2, through: 0, by: -1) {
                var inputGradient = [Float](repeating: 0, count: batch.rows * 4)
                let kept = try inputGradient.withUnsafeMutableBufferPointer { ig in
                    try (gradient ?? []).withUnsafeBufferPointer { og in
                        try stack.backwardInput(batch, part: part, activations: stored[part], outputGradient: gradient == nil ? nil : og,
                                                lossScale: scale, inputGradient: part > 0 ? ig : nil)
                    }
                }
                deferred.append((batch, part, kept))
                gradient = inputGradient
            }
        }
        for (batch, part, kept) in deferred.reversed() { try stack.backwardWeight(batch, part: part, inputs: kept) }

        let h = 1e-5
        var worst = 0.0, largest = 0.0
        for layer in 0..<6 {
            let (w, b) = stack.weights[layer]!
            for p in [w, b] {
                for i in 0..<p.count {
                    let v = Double(p.values[i])
                    let plus = Self.loss(stack, batches, lossScale: Double(scale), override: (p.name, i, v + h))
                    let minus = Self.loss(stack, batches, lossScale: Double(scale), override: (p.name, i, v - h))
                    let numeric = (plus - minus) / (2 * h)
                    worst = max(worst, abs(numeric - Double(p.gradient[i])))
                    largest = max(largest, abs(numeric))
                }
            }
        }
        #expect(largest > 1e-3, "the gradients are all but zero: the check would prove nothing")
        #expect(worst <= 1e-5 * largest + 1e-7, "analytic vs finite-difference gradient: worst error \(worst), largest gradient \(largest)")
    }
}
