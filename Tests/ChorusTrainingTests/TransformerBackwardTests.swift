import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import ChorusTraining
import Foundation
import Testing

/// Properties of the transformer's backward that need no reference: the B/W split and the cutting
/// into parts change no bit, nor does the thread count; and central finite differences of the
/// training loss agree with the gradients on every architecture (Qwen2's biases and NeoX RoPE,
/// Gemma 3's per-head norms, output norms, GELU and query scale, which the JAX reference does not cover).
@Suite(.serialized) struct TransformerBackwardTests {
    /// Two micro-batches of `length` tokens from the reference text, on `model`'s tokenizer... by ids:
    /// the fixture's tokens, rotated, so no tokenizer is needed.
    static func batches(length: Int) throws -> [TrainingBatch] {
        let tokens = try ReferenceFixture.load().tokens
        return (0..<2).map { m in
            let ids = (0...length).map { tokens[($0 + 7 * m) % tokens.count] }
            var mask = Array(repeating: true, count: length)
            if m == 1 { mask[0] = false; mask[3] = false }  // rows outside the loss
            return TrainingBatch([(Array(ids.dropLast()), Array(ids.dropFirst()), mask)])
        }
    }

    static func adapter(_ file: GGUFFile, rank: Int = 4, seed: UInt64 = 5) throws -> LoRAAdapter {
        try LoRAAdapter(model: file, configuration: LoRAConfiguration(rank: rank, alpha: Float(2 * rank)),
                        initialisation: LoRAInitialisation(seed: seed, bScale: 0.02))
    }

    /// What one arrangement of a step produced: losses, boundary gradients, every parameter's gradient.
    struct Outcome: Equatable {
        var losses: [UInt64] = []
        var boundaryGradients: [[UInt32]] = []
        var gradients: [String: [UInt32]] = [:]
    }

    static func gradients(_ adapter: LoRAAdapter) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: adapter.parameters.map { ($0.name, $0.gradient.map(\.bitPattern)) })
    }

    /// Forward, B and W of every micro-batch through `parts` (layer ranges) in one of two orders:
    /// fused (each micro-batch's F, B, W in turn) or split (all F, then all B in reverse micro-batch
    /// order, then every W in micro-batch order, as a zero-bubble schedule defers them).
    static func run(_ file: GGUFFile, parts: [Range<Int>], threads: Int, split: Bool, batches: [TrainingBatch]) throws -> Outcome {
        let adapter = try adapter(file)
        let stages = try TransformerStages(file: file, adapter: adapter, partLayers: parts,
                                           context: ExecutionContext(pool: ThreadPool(threads: threads)), contextLength: 64)
        var outcome = Outcome()
        let scale = 1 / Float(batches.reduce(0) { $0 + $1.lossRows.count })
        var kept: [[TransformerStages.Activations]] = Array(repeating: [], count: batches.count)
        var deferred: [(Int, Int, TransformerStages.WeightInputs)] = []
        var boundary: [[Float]] = Array(repeating: [], count: batches.count)
        func forward(_ m: Int) throws {
            var input: [Float]? = nil
            for p in parts.indices {
                var output = [Float](repeating: 0, count: stages.boundaryCount(batches[m], part: p))
                let result = try output.withUnsafeMutableBufferPointer { out in
                    try (input ?? []).withUnsafeBufferPointer { inp in
                        try stages.forward(batches[m], part: p, input: input == nil ? nil : inp, output: p + 1 < parts.count ? out : nil)
                    }
                }
                kept[m].append(result.activations)
                if let loss = result.lossSum { outcome.losses.append(loss.bitPattern) }
                input = output
            }
        }
        func backward(_ m: Int, weights: Bool) throws {
            var gradient: [Float]? = nil
            for p in parts.indices.reversed() {
                var inputGradient = [Float](repeating: 0, count: stages.boundaryCount(batches[m], part: p))
                let w = try inputGradient.withUnsafeMutableBufferPointer { ig in
                    try (gradient ?? []).withUnsafeBufferPointer { og in
                        try stages.backwardInput(batches[m], part: p, activations: kept[m][p], outputGradient: gradient == nil ? nil : og,
                                                 lossScale: scale, inputGradient: p > 0 ? ig : nil)
                    }
                }
                if weights { try stages.backwardWeight(batches[m], part: p, inputs: w) } else { deferred.append((m, p, w)) }
                if p > 0 { boundary[m] += inputGradient }
                gradient = inputGradient
            }
        }
        if split {
            for m in batches.indices { try forward(m) }
            for m in batches.indices.reversed() { try backward(m, weights: false) }
            for (m, p, w) in deferred.sorted(by: { ($0.1, $0.0) < ($1.1, $1.0) }) { try stages.backwardWeight(batches[m], part: p, inputs: w) }
        } else {
            for m in batches.indices {
                try forward(m)
                try backward(m, weights: true)
            }
        }
        outcome.losses.sort()
        outcome.boundaryGradients = boundary.map { $0.map(\.bitPattern) }
        outcome.gradients = gradients(adapter)
        return outcome
    }

    /// B and W apart (W deferred past other micro-batches' B) equal B and W together bit for bit,
    /// and so do one and two threads; the whole model in one part gives the parts' gradients bit for bit.
    @Test func splitBackwardAndThreadsChangeNoBit() throws {
        let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        let batches = try Self.batches(length: 12)
        let parts = [0..<11, 11..<30]
        let fused = try Self.run(file, parts: parts, threads: 2, split: false, batches: batches)
        let split = try Self.run(file, parts: parts, threads: 2, split: true, batches: batches)
        #expect(fused.gradients.values.contains { $0.contains { $0 != 0 } })
        #expect(split == fused, "deferring W changed a bit")
        let oneThread = try Self.run(file, parts: parts, threads: 1, split: true, batches: batches)
        #expect(oneThread == fused, "the thread count changed a bit")
        let whole = try Self.run(file, parts: [0..<30], threads: 2, split: false, batches: batches)
        #expect(whole.gradients == fused.gradients && whole.losses == fused.losses, "cutting the model into parts changed a bit")
    }

    /// Central differences of the training loss (sum over the loss rows, f32 forward) at the largest
    /// gradient entry of a few LoRA tensors spread over the layers and targets, against B and W.
    static func finiteDifferences(_ id: String) throws -> [(name: String, analytic: Double, numeric: Double)] {
        let file = try GGUFFile(path: try TestModels.path(id))
        let adapter = try adapter(file)
        let model = try Transformer(file: file, context: ExecutionContext(pool: ThreadPool(threads: 2)), contextCapacity: 64, maxBatch: 1,
                                    adapters: adapter.adapters())
        let batch = try batches(length: 10)[1]
        let kept = try model.trainingForward(batch, input: nil, output: nil)
        try model.trainingBackwardWeights(try model.trainingBackwardInput(kept, outputGradient: nil, lossScale: 1, inputGradient: nil))
        let layers = model.config.layerCount
        let picks = [(0, "attn_k", "lora_a"), (1, "attn_output", "lora_b"), (layers / 2, "attn_v", "lora_b"), (layers / 2, "attn_q", "lora_a"),
                     (layers - 2, "ffn_up", "lora_b"), (layers - 1, "ffn_gate", "lora_a"), (layers - 1, "ffn_down", "lora_a")]
        let byName = Dictionary(uniqueKeysWithValues: adapter.parameters.map { ($0.name, $0) })
        var out: [(String, Double, Double)] = []
        for (layer, tensor, factor) in picks {
            let p = try #require(byName["blk.\(layer).\(tensor).weight.\(factor)"])
            let i = p.gradient.indices.max { abs(p.gradient[$0]) < abs(p.gradient[$1]) }!
            let original = p.values[i], h: Float = 1e-2
            p.values[i] = original + h
            let plus = try model.trainingForward(batch, input: nil, output: nil).lossSum!
            p.values[i] = original - h
            let minus = try model.trainingForward(batch, input: nil, output: nil).lossSum!
            p.values[i] = original
            out.append(("\(p.name)[\(i)]", Double(p.gradient[i]), (plus - minus) / Double(2 * h)))
        }
        return out
    }

    @Test(arguments: ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"])
    func finiteDifferencesAgreeWithBackward(_ id: String) throws {
        for (name, analytic, numeric) in try Self.finiteDifferences(id) {
            print("\(id) \(name): backward \(analytic), central difference \(numeric), ratio \(numeric / analytic)")
            // 1% plus the noise floor: the f32 loss sums (~50) round at ~1e-5, divided by 2h = 0.02.
            #expect(abs(numeric - analytic) <= 1e-2 * abs(analytic) + 1e-3, "\(id) \(name): backward \(analytic), central difference \(numeric)")
        }
    }
}
