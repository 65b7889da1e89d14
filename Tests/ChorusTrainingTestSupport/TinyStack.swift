import ChorusModels
import ChorusTraining

/// One micro-batch of the tiny model: `rows` input vectors and their targets, `width` floats each.
public struct TinyBatch: Sendable {
    public var rows: Int
    public var inputs: [Float]
    public var targets: [Float]

    public init(rows: Int, inputs: [Float], targets: [Float]) {
        self.rows = rows
        self.inputs = inputs
        self.targets = targets
    }

    /// Deterministic data for micro-batch `index`.
    public static func make(index: Int, rows: Int, width: Int, seed: UInt64) -> TinyBatch {
        var g = SplitMix64(seed: seed, stream: 10_000 + UInt64(index))
        let inputs = (0..<rows * width).map { _ in g.nextSymmetricFloat() }
        let targets = (0..<rows * width).map { _ in g.nextSymmetricFloat() * 0.5 }
        return TinyBatch(rows: rows, inputs: inputs, targets: targets)
    }
}

/// A stack of f32 layers y = tanh(W x + b) (W width x width) with the loss 0.5 |y - t|^2 per row, cut into
/// consecutive parts, with a hand-written backward split into input gradient (B) and weight gradient (W):
/// the model the pipeline executor is tested with before the transformer's stage operations exist.
public final class TinyStack: StageOperations {
    public typealias MicroBatch = TinyBatch

    /// What a part's forward keeps: each layer's input and output, rows x width.
    public final class Activations: StoredActivations {
        var inputs: [[Float]] = []
        var outputs: [[Float]] = []
        public var byteCount: Int { (inputs.reduce(0) { $0 + $1.count } + outputs.reduce(0) { $0 + $1.count }) * 4 }
    }

    /// What W needs: each layer's input and the gradient of its pre-activation.
    public final class WeightInputs: StoredActivations {
        var inputs: [[Float]] = []
        var preGradients: [[Float]] = []
        public var byteCount: Int { (inputs.reduce(0) { $0 + $1.count } + preGradients.reduce(0) { $0 + $1.count }) * 4 }
    }

    public let width: Int
    public let layerCount: Int
    /// Layers of each part.
    public let partLayers: [Range<Int>]
    /// Per layer held on this rank: W (width x width, row-major, out x in) and b.
    public private(set) var weights: [Int: (w: Parameter, b: Parameter)] = [:]

    public var partCount: Int { partLayers.count }

    /// The model cut into `parts` parts, holding the parameters of `heldParts` (all when nil); every copy of a
    /// layer starts from the same values (drawn from `seed` and the layer index).
    public init(width: Int, layers: Int, parts: Int, heldParts: [Int]? = nil, seed: UInt64) {
        precondition(parts >= 1 && parts <= layers)
        self.width = width
        self.layerCount = layers
        partLayers = (0..<parts).map { p in p * layers / parts..<(p + 1) * layers / parts }
        for part in heldParts ?? Array(0..<parts) {
            for layer in partLayers[part] {
                var g = SplitMix64(seed: seed, stream: UInt64(layer))
                let bound = 1.5 / Float(width).squareRoot()
                let w = (0..<width * width).map { _ in g.nextSymmetricFloat() * bound }
                let b = (0..<width).map { _ in g.nextSymmetricFloat() * 0.1 }
                weights[layer] = (Parameter(name: "layer\(layer).w", dimensions: [width, width], values: w),
                                  Parameter(name: "layer\(layer).b", dimensions: [width], values: b))
            }
        }
    }

    public func boundaryCount(_ batch: TinyBatch, part: Int) -> Int { batch.rows * width }

    public func parameters(part: Int) -> [Parameter] {
        partLayers[part].flatMap { layer in weights[layer].map { [$0.w, $0.b] } ?? [] }
    }

    public func forward(_ batch: TinyBatch, part: Int, input: UnsafeBufferPointer<Float>?,
                        output: UnsafeMutableBufferPointer<Float>?) throws -> (activations: Activations, lossSum: Double?) {
        var x = input.map(Array.init) ?? batch.inputs
        let stored = Activations()
        for layer in partLayers[part] {
            let (w, b) = weights[layer]!
            var y = [Float](repeating: 0, count: x.count)
            for r in 0..<batch.rows {
                for j in 0..<width {
                    var z = b.values[j]
                    for i in 0..<width { z += w.values[j * width + i] * x[r * width + i] }
                    y[r * width + j] = tanhf(z)
                }
            }
            stored.inputs.append(x)
            stored.outputs.append(y)
            x = y
        }
        if let output {
            for i in 0..<x.count { output[i] = x[i] }
            return (stored, nil)
        }
        var loss = 0.0
        for i in 0..<x.count {
            let d = Double(x[i] - batch.targets[i])
            loss += 0.5 * d * d
        }
        return (stored, loss)
    }

    public func backwardInput(_ batch: TinyBatch, part: Int, activations: Activations, outputGradient: UnsafeBufferPointer<Float>?,
                              lossScale: Float, inputGradient: UnsafeMutableBufferPointer<Float>?) throws -> WeightInputs {
        var dy: [Float]
        if let outputGradient {
            dy = Array(outputGradient)
        } else {
            let y = activations.outputs.last!
            dy = (0..<y.count).map { lossScale * (y[$0] - batch.targets[$0]) }
        }
        let kept = WeightInputs()
        for (position, layer) in partLayers[part].enumerated().reversed() {
            let w = weights[layer]!.w
            let y = activations.outputs[position]
            let dz = (0..<dy.count).map { dy[$0] * (1 - y[$0] * y[$0]) }
            var dx = [Float](repeating: 0, count: dz.count)
            for r in 0..<batch.rows {
                for i in 0..<width {
                    var s: Float = 0
                    for j in 0..<width { s += dz[r * width + j] * w.values[j * width + i] }
                    dx[r * width + i] = s
                }
            }
            kept.inputs.insert(activations.inputs[position], at: 0)
            kept.preGradients.insert(dz, at: 0)
            dy = dx
        }
        if let inputGradient { for i in 0..<dy.count { inputGradient[i] = dy[i] } }
        return kept
    }

    public func backwardWeight(_ batch: TinyBatch, part: Int, inputs: WeightInputs) throws {
        for (position, layer) in partLayers[part].enumerated() {
            let (w, b) = weights[layer]!
            let x = inputs.inputs[position], dz = inputs.preGradients[position]
            for j in 0..<width {
                var db: Float = 0
                for r in 0..<batch.rows { db += dz[r * width + j] }
                b.gradient[j] += db
                for i in 0..<width {
                    var dw: Float = 0
                    for r in 0..<batch.rows { dw += dz[r * width + j] * x[r * width + i] }
                    w.gradient[j * width + i] += dw
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
