import ChorusModels
import ChorusTraining
import Foundation
import Testing

/// AdamW against its closed forms and the reference's two steps on smollm2-135m's LoRA gradients; the
/// learning-rate schedule against its closed form.
@Suite struct OptimiserTests {
    /// With a constant gradient g the bias-corrected moments are exactly g and g^2 at every step, so each
    /// step is p <- p (1 - lr wd) - lr g / (|g| + eps): after T steps
    /// p_T = p_0 d^T - lr g / (|g| + eps) * (1 - d^T) / (1 - d), d = 1 - lr wd.
    @Test func constantGradientClosedForm() {
        let p0: [Float] = [0.5, -0.3, 0.02, 1.5], g: [Float] = [0.2, -0.1, 0.0005, -3]
        let lr: Float = 0.01, wd: Float = 0.1
        let parameter = Parameter(name: "p", dimensions: [4], values: p0)
        var adam = AdamW(AdamW.Hyperparameters(weightDecay: wd))
        let steps = 25
        for _ in 0..<steps {
            parameter.gradient = g
            adam.update([parameter], learningRate: lr)
        }
        let d = 1 - Double(lr) * Double(wd)
        for i in 0..<4 {
            let gi = Double(g[i]), dT = pow(d, Double(steps))
            let expected = Double(p0[i]) * dT - Double(lr) * gi / (abs(gi) + 1e-8) * (1 - dT) / (1 - d)
            #expect(abs(Double(parameter.values[i]) - expected) <= 2e-6 * max(1, abs(expected)), "p[\(i)] = \(parameter.values[i]), closed form \(expected)")
        }
        #expect(adam.step == steps)
    }

    /// The reference's AdamW (PyTorch's formula, float64) from the same initial values and gradients: at
    /// every sampled position of every LoRA tensor, each step's change agrees within 1e-4 relative plus the
    /// f32 rounding of the value it is added to (4 ulp), and the values within 1e-6 relative plus 1e-6 lr.
    @Test func matchesReferenceSteps() throws {
        let fixture = try ReferenceFixture.load()
        let h = fixture.adamw
        var adam = AdamW(AdamW.Hyperparameters(beta1: Float(h.b1), beta2: Float(h.b2), epsilon: Float(h.eps), weightDecay: Float(h.wd)))
        // AdamW is element-wise: the sampled positions of every tensor form one parameter.
        let samples = fixture.tensors.flatMap { t in t.initial.indices.map { (t, $0) } }
        let parameter = Parameter(name: "samples", dimensions: [samples.count], values: samples.map { Float($0.0.initial[$0.1]) })
        var worst = 0.0, worstValue = 0.0
        for (step, expected, gradient) in [(1, \ReferenceFixture.Tensor.step1, \ReferenceFixture.Tensor.grad0),
                                           (2, \ReferenceFixture.Tensor.step2, \ReferenceFixture.Tensor.grad1)] {
            let before = parameter.values
            parameter.gradient = samples.map { Float($0.0[keyPath: gradient][$0.1]) }
            adam.update([parameter], learningRate: Float(h.lr))
            for (i, (t, j)) in samples.enumerated() {
                let previous = step == 1 ? t.initial[j] : t.step1[j]
                let want = t[keyPath: expected][j] - previous, got = Double(parameter.values[i]) - Double(before[i])
                let rounding = 4 * Double(Float(previous).ulp)
                worst = max(worst, max(0, abs(got - want) - rounding) / abs(want))
                let value = t[keyPath: expected][j]
                worstValue = max(worstValue, max(0, abs(Double(parameter.values[i]) - value) - 1e-6 * h.lr) / abs(value))
            }
        }
        #expect(worst <= 1e-4, "worst relative error of an AdamW step's change: \(worst)")
        #expect(worstValue <= 1e-6, "worst relative error of a value after an AdamW step: \(worstValue)")
    }

    @Test func warmupThenCosine() throws {
        let s = try LearningRateSchedule(peak: 2e-4, warmup: 10, total: 110)
        #expect(s.learningRate(step: 0) == 0)
        #expect(abs(s.learningRate(step: 5) - 1e-4) <= 1e-10)
        #expect(abs(s.learningRate(step: 10) - 2e-4) <= 1e-10)
        #expect(abs(s.learningRate(step: 60) - 1e-4) <= 1e-10)  // halfway down: (1 + cos(pi/2)) / 2
        #expect(abs(s.learningRate(step: 35) - Float(2e-4 * (1 + cos(Double.pi / 4)) / 2)) <= 1e-10)
        #expect(s.learningRate(step: 110) <= 1e-12)
        let floor = try LearningRateSchedule(peak: 1, warmup: 0, total: 4, minimumRatio: 0.1)
        #expect(floor.learningRate(step: 0) == 1)
        #expect(abs(floor.learningRate(step: 2) - 0.55) <= 1e-6)
        #expect(abs(floor.learningRate(step: 9) - 0.1) <= 1e-6)  // past the end: the floor
        #expect(throws: TrainingError.invalidOption("--lr must be a positive number (got -1.0)")) { try LearningRateSchedule(peak: -1, warmup: 0, total: 1) }
        #expect(throws: TrainingError.self) { try LearningRateSchedule(peak: 1, warmup: -1, total: 1) }
    }
}
