import ChorusPipeline
import ChorusTraining
import ChorusTransport
import Foundation

/// The tiny model's training run, shared by the in-process tests and the mpirun check: the same shape,
/// data, learning rates and optimiser everywhere, so runs under any schedule and rank count compare
/// with `unsplit`.
public enum TinyRun {
    public static let width = 5
    public static let rows = 3
    public static let seed: UInt64 = 42

    /// What a run ends with.
    public struct Result: Codable, Equatable, Sendable {
        /// The loss of every optimiser step.
        public var losses: [Double]
        /// Every parameter after the last step, by name.
        public var parameters: [String: [Float]]
        /// Per rank, the measured peak of stored chunk activations.
        public var peakActivations: [Int]
        /// Per rank, the schedule's `peakActivations` (the simulator's figure).
        public var schedulePeakActivations: [Int]
        /// Whether every rank's weight gradients accumulated in micro-batch order.
        public var inOrder: Bool
        /// The first step's measured actions (recorded runs).
        public var record: StepRecord?
    }

    /// The micro-batches of every step (the same data each step, so the loss must fall).
    public static func batches(_ microbatches: Int, step: Int) -> [TinyBatch] {
        (0..<microbatches).map { TinyBatch.make(index: $0, rows: rows, width: width, seed: seed) }
    }

    public static func learningRates(steps: Int) throws -> LearningRateSchedule {
        try LearningRateSchedule(peak: 0.05, warmup: 1, total: steps, minimumRatio: 0.1)
    }

    public static var lossScale: (Int) -> Float { { microbatches in 1 / Float(microbatches * rows) } }

    /// The tiny model with `layers` layers cut into the schedule's route length, for rank `rank`.
    public static func model(schedule: Schedule, rank: Int, layers: Int) -> TinyStack {
        var held: [Int] = []
        for m in 0..<schedule.microbatches {
            for k in 0..<schedule.routeLength where schedule.rank(microbatch: m, stage: k) == rank && !held.contains(k) { held.append(k) }
        }
        return TinyStack(width: width, layers: layers, parts: schedule.routeLength, heldParts: held.sorted(), seed: seed)
    }

    /// `steps` AdamW steps of `schedule` on this rank; the result holds this rank's parameters only, and
    /// `peakActivations` this rank's figure.
    public static func runRank(schedule: Schedule, rank: Int, transport: (any Transport)?, layers: Int, steps: Int,
                               record: Bool = false) throws -> Result {
        let stack = model(schedule: schedule, rank: rank, layers: layers)
        let executor = try PipelineExecutor(schedule: schedule, rank: rank, transport: transport, operations: stack)
        executor.optimizer = AdamW(AdamW.Hyperparameters(weightDecay: 0.05))
        executor.recording = record
        let rates = try learningRates(steps: steps)
        var losses: [Double] = [], peak = 0
        var first: StepRecord?
        for step in 0..<steps {
            let report = try executor.step(batches(schedule.microbatches, step: step), lossScale: lossScale(schedule.microbatches),
                                           learningRate: rates.learningRate(step: step))
            losses.append(report.loss)
            peak = max(peak, report.peakActivations)
            if step == 0 { first = report.record }
        }
        var parameters: [String: [Float]] = [:]
        for parameter in executor.parameters { parameters[parameter.name] = parameter.values }
        return Result(losses: losses, parameters: parameters, peakActivations: [peak],
                      schedulePeakActivations: schedule.peakActivations, inOrder: executor.accumulatesInMicrobatchOrder, record: first)
    }

    /// Merges the ranks' results: parameters by name (copies must agree bit for bit), peaks by rank.
    public static func merge(_ ranks: [Result]) throws -> Result {
        var merged = ranks[0]
        merged.peakActivations = ranks.map { $0.peakActivations[0] }
        merged.inOrder = ranks.allSatisfy(\.inOrder)
        for result in ranks.dropFirst() {
            guard result.losses.map(\.bitPattern) == merged.losses.map(\.bitPattern) else {
                throw TrainingError.invalidPipeline("ranks report different losses: \(result.losses) vs \(merged.losses)")
            }
            for (name, values) in result.parameters {
                if let existing = merged.parameters[name], existing.map(\.bitPattern) != values.map(\.bitPattern) {
                    throw TrainingError.invalidPipeline("the two copies of \(name) differ")
                }
                merged.parameters[name] = values
            }
        }
        return merged
    }

    /// The unsplit computation: one process, the whole model as one part, the micro-batches one after another
    /// (forward, backward, weight gradient), then the same AdamW step.
    public static func unsplit(microbatches: Int, layers: Int, steps: Int) throws -> Result {
        let stack = TinyStack(width: width, layers: layers, parts: 1, seed: seed)
        var optimizer = AdamW(AdamW.Hyperparameters(weightDecay: 0.05))
        let rates = try learningRates(steps: steps)
        let parameters = stack.parameters(part: 0)
        var losses: [Double] = []
        for step in 0..<steps {
            for parameter in parameters { parameter.zeroGradient() }
            var total = 0.0
            for batch in batches(microbatches, step: step) {
                let (stored, loss) = try stack.forward(batch, part: 0, input: nil, output: nil)
                total += loss!
                let inputs = try stack.backwardInput(batch, part: 0, activations: stored, outputGradient: nil,
                                                     lossScale: lossScale(microbatches), inputGradient: nil)
                try stack.backwardWeight(batch, part: 0, inputs: inputs)
            }
            losses.append(total * Double(lossScale(microbatches)))
            optimizer.update(parameters, learningRate: rates.learningRate(step: step))
        }
        var values: [String: [Float]] = [:]
        for parameter in parameters { values[parameter.name] = parameter.values }
        return Result(losses: losses, parameters: values, peakActivations: [], schedulePeakActivations: [], inOrder: true, record: nil)
    }
}
