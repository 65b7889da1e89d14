import ChorusModels
import Foundation

/// AdamW as PyTorch's `torch.optim.AdamW` (Loshchilov & Hutter: weight decay decoupled from the gradient),
/// over f32 parameters, following its single-tensor update step for step:
///
///     p *= 1 - lr * weightDecay
///     m += (1 - beta1) * (g - m)                 (exp_avg.lerp_(grad, 1 - beta1))
///     v  = beta2 * v + (1 - beta2) * g * g
///     p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///
/// with t the 1-based step; the bias corrections are computed in Double, as Python computes them.
public struct AdamW: Sendable, Equatable, Codable {
    public struct Hyperparameters: Sendable, Equatable, Codable {
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        public var weightDecay: Float

        /// PyTorch's defaults (betas 0.9, 0.999; eps 1e-8; weight decay 0.01).
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    /// First and second moments of one parameter.
    public struct Moments: Sendable, Equatable, Codable {
        public var m: [Float]
        public var v: [Float]
    }

    public var hyperparameters: Hyperparameters
    /// Steps taken (t of the last update).
    public private(set) var step: Int = 0
    /// Moments by parameter name (created at a parameter's first update).
    public var moments: [String: Moments] = [:]

    public init(_ hyperparameters: Hyperparameters = Hyperparameters()) {
        self.hyperparameters = hyperparameters
    }

    /// Restores a state saved by a checkpoint.
    public init(_ hyperparameters: Hyperparameters, step: Int, moments: [String: Moments]) {
        self.hyperparameters = hyperparameters
        self.step = step
        self.moments = moments
    }

    /// One update of every parameter from its accumulated gradient at learning rate `lr`.
    public mutating func update(_ parameters: [Parameter], learningRate lr: Float) {
        step += 1
        let h = hyperparameters
        let t = Double(step)
        let bc1 = 1 - pow(Double(h.beta1), t), bc2 = 1 - pow(Double(h.beta2), t)
        let stepSize = Float(Double(lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let decay = 1 - lr * h.weightDecay
        let oneMinusBeta1 = 1 - h.beta1, oneMinusBeta2 = 1 - h.beta2
        for parameter in parameters {
            var state = moments[parameter.name] ?? Moments(m: Array(repeating: 0, count: parameter.count),
                                                           v: Array(repeating: 0, count: parameter.count))
            precondition(state.m.count == parameter.count, "AdamW state of \(parameter.name) has the wrong size")
            state.m.withUnsafeMutableBufferPointer { m in
                state.v.withUnsafeMutableBufferPointer { v in
                    parameter.values.withUnsafeMutableBufferPointer { p in
                        parameter.gradient.withUnsafeBufferPointer { g in
                            for i in 0..<p.count {
                                p[i] *= decay
                                m[i] += oneMinusBeta1 * (g[i] - m[i])
                                v[i] = h.beta2 * v[i] + oneMinusBeta2 * g[i] * g[i]
                                let denominator = v[i].squareRoot() / bc2Sqrt + h.epsilon
                                p[i] -= stepSize * m[i] / denominator
                            }
                        }
                    }
                }
            }
            moments[parameter.name] = state
        }
    }
}

/// Learning rate per optimiser step: linear warm-up from 0 to `peak` over `warmup` steps, then cosine decay
/// to `peak * minimumRatio` at step `total` (Hugging Face's `get_cosine_schedule_with_warmup` with a floor):
///
///     lr(t) = peak * t / warmup                                                         for t < warmup
///     lr(t) = peak * (r + (1 - r) * (1 + cos(pi * min(1, (t - warmup) / max(1, total - warmup)))) / 2)   after
///
/// where t counts optimiser steps from 0.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public var peak: Float
    public var warmup: Int
    public var total: Int
    public var minimumRatio: Float

    public init(peak: Float, warmup: Int, total: Int, minimumRatio: Float = 0) throws {
        guard peak.isFinite, peak > 0 else { throw TrainingError.invalidOption("--lr must be a positive number (got \(peak))") }
        guard warmup >= 0 else { throw TrainingError.invalidOption("--warmup cannot be negative (got \(warmup))") }
        guard total >= 1 else { throw TrainingError.invalidOption("the run has no optimiser steps (--steps or --epochs give \(total))") }
        guard minimumRatio >= 0, minimumRatio <= 1 else { throw TrainingError.invalidOption("the minimum learning-rate ratio must be in [0, 1]") }
        self.peak = peak
        self.warmup = warmup
        self.total = total
        self.minimumRatio = minimumRatio
    }

    /// The learning rate of optimiser step `t` (0-based).
    public func learningRate(step t: Int) -> Float {
        if t < warmup { return Float(Double(peak) * Double(t) / Double(warmup)) }
        let progress = min(1, Double(t - warmup) / Double(max(1, total - warmup)))
        let cosine = (1 + cos(Double.pi * progress)) / 2
        return Float(Double(peak) * (Double(minimumRatio) + (1 - Double(minimumRatio)) * cosine))
    }
}
