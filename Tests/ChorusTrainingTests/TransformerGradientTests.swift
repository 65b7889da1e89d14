import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import ChorusTraining
import Foundation
import Testing

/// The transformer's training forward, input-gradient (B) and weight-gradient (W) backward on
/// smollm2-135m against the JAX reference (Tests/Fixtures/training/smollm2-135m-lora.json, float64
/// on the same dequantised weights): the loss, every LoRA tensor's gradient, and the loss after an
/// AdamW step.
@Suite(.serialized) struct TransformerGradientTests {
    /// The fixture's model with its adapter (rank 8, alpha 16, seed 17, B bound 0.02 on every target).
    static func setUp(threads: Int = 2) throws -> (GGUFFile, LoRAAdapter, Transformer, ReferenceFixture) {
        let fixture = try ReferenceFixture.load()
        let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        let configuration = try LoRAConfiguration(rank: fixture.rank, alpha: Float(fixture.alpha))
        let adapter = try LoRAAdapter(model: file, configuration: configuration,
                                      initialisation: LoRAInitialisation(seed: fixture.seed, bScale: Float(fixture.b_scale)))
        let model = try Transformer(file: file, context: ExecutionContext(pool: ThreadPool(threads: threads)), contextCapacity: 64,
                                    maxBatch: 1, adapters: adapter.adapters())
        return (file, adapter, model, fixture)
    }

    /// The fixture's sequence: tokens[:-1] predicting tokens[1:], every position in the loss.
    static func batch(_ fixture: ReferenceFixture) -> TrainingBatch {
        let t = fixture.tokens
        return TrainingBatch([(Array(t.dropLast()), Array(t.dropFirst()), Array(repeating: true, count: t.count - 1))])
    }

    /// Mean loss and the gradients of it (forward, B, W) into the parameters (zeroed first).
    static func lossAndGradients(_ model: Transformer, _ adapter: LoRAAdapter, _ batch: TrainingBatch) throws -> Double {
        for p in adapter.parameters { p.zeroGradient() }
        let kept = try model.trainingForward(batch, input: nil, output: nil)
        let scale = 1 / Float(batch.rows)
        let inputs = try model.trainingBackwardInput(kept, outputGradient: nil, lossScale: scale, inputGradient: nil)
        try model.trainingBackwardWeights(inputs)
        return kept.lossSum! / Double(batch.rows)
    }

    /// Every LoRA tensor's gradient against the reference's: its norm within `tolerance` relative, and
    /// each sampled entry within `tolerance` of the tensor's largest |gradient| (`grad0_max`), so
    /// entries near zero are held to the tensor's scale, not their own.
    static func compareGradients(_ adapter: LoRAAdapter, _ fixture: ReferenceFixture, tolerance: Double) -> (norm: Double, entry: Double) {
        let byName = Dictionary(uniqueKeysWithValues: adapter.parameters.map { ($0.name, $0) })
        var worstNorm = 0.0, worstEntry = 0.0
        for t in fixture.tensors {
            guard let p = byName[t.name] else {
                Issue.record("no parameter \(t.name)")
                continue
            }
            let norm = p.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let normError = abs(norm - t.grad0_norm) / t.grad0_norm
            worstNorm = max(worstNorm, normError)
            #expect(normError <= tolerance, "\(t.name): gradient norm \(norm), reference \(t.grad0_norm)")
            let scale = t.grad0_max ?? t.grad0_norm
            for (position, expected) in zip(t.positions, t.grad0) {
                let error = abs(Double(p.gradient[position]) - expected) / scale
                worstEntry = max(worstEntry, error)
                #expect(error <= tolerance, "\(t.name)[\(position)] = \(p.gradient[position]), reference \(expected)")
            }
        }
        return (worstNorm, worstEntry)
    }

    @Test func lossAndEveryLoRAGradientMatchReference() throws {
        let (_, adapter, model, fixture) = try Self.setUp()
        let loss = try Self.lossAndGradients(model, adapter, Self.batch(fixture))
        #expect(abs(loss - fixture.loss0) <= 1e-5 * fixture.loss0, "loss \(loss), reference \(fixture.loss0)")
        let (norm, entry) = Self.compareGradients(adapter, fixture, tolerance: 1e-4)
        print("loss \(loss) vs \(fixture.loss0); worst gradient norm error \(norm), worst entry error \(entry)")
    }

    /// One AdamW step (the reference's hyperparameters) from those gradients, then the loss again.
    @Test func lossAfterOneAdamWStepMatchesReference() throws {
        let (_, adapter, model, fixture) = try Self.setUp()
        let batch = Self.batch(fixture)
        _ = try Self.lossAndGradients(model, adapter, batch)
        let h = fixture.adamw
        var adam = AdamW(AdamW.Hyperparameters(beta1: Float(h.b1), beta2: Float(h.b2), epsilon: Float(h.eps), weightDecay: Float(h.wd)))
        adam.update(adapter.parameters, learningRate: Float(h.lr))
        let kept = try model.trainingForward(batch, input: nil, output: nil)
        let loss1 = kept.lossSum! / Double(batch.rows)
        #expect(abs(loss1 - fixture.loss1) <= 1e-4 * fixture.loss1, "loss after one step \(loss1), reference \(fixture.loss1)")
        print("loss after one AdamW step \(loss1) vs \(fixture.loss1)")
    }
}
