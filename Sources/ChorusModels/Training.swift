import ChorusKernels
import ChorusRuntime

/// The rows of one training micro-batch: sequences laid end to end, each causal on its own from
/// position 0, each row predicting `targets[row]` and counted in the loss where `lossMask[row]`.
public struct TrainingBatch: Sendable, Equatable {
    public private(set) var tokens: [Int] = []
    public private(set) var targets: [Int] = []
    public private(set) var lossMask: [Bool] = []
    /// Each row's position within its sequence.
    public private(set) var positions: [Int] = []
    /// The rows of each sequence.
    public private(set) var sequences: [Range<Int>] = []

    /// Sequences of (inputs, targets, loss mask), each three arrays of the same length.
    public init(_ sequences: [(inputs: [Int], targets: [Int], lossMask: [Bool])]) {
        for s in sequences {
            precondition(s.inputs.count == s.targets.count && s.targets.count == s.lossMask.count, "a training sequence's arrays differ in length")
            self.sequences.append(tokens.count..<tokens.count + s.inputs.count)
            tokens += s.inputs
            targets += s.targets
            lossMask += s.lossMask
            positions += Array(0..<s.inputs.count)
        }
    }

    /// Rows in the micro-batch.
    public var rows: Int { tokens.count }
    /// Rows counted in the loss.
    public var lossRows: [Int] { lossMask.indices.filter { lossMask[$0] } }
    /// The longest sequence.
    var longest: Int { sequences.map(\.count).max() ?? 0 }
}

/// An owned f32 buffer a training forward keeps for its backward (zeroed when made).
final class Floats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    var byteCount: Int { count * 4 }

    deinit { pointer.deallocate() }
}

/// How one training pass runs: the micro-batch and the execution context's threads.
struct TrainingStep {
    let batch: TrainingBatch
    let context: ExecutionContext

    var rows: Int { batch.rows }

    /// `body` on each compute unit's share of `count` items of an operator class.
    @inline(__always)
    func run(_ count: Int, op: OperatorClass, grain: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        context.pool.run(count, under: context.plan, op: op, grain: grain, body)
    }

    /// `body(t)` for every row, threaded.
    @inline(__always)
    func forEachRow(_ body: (Int) -> Void) {
        run(rows, op: .rowwise, grain: 4) { range, _ in for t in range { body(t) } }
    }
}

/// What a block's forward kept for its backward.
protocol BlockActivations: AnyObject {
    var byteCount: Int { get }
}

/// What the weight-gradient part (W) of one adapted product needs: its input rows x, A x, B^T dy and
/// the gradient of its output dy, all [rows][...] f32.
final class LoRAGradientInputs {
    let linear: Linear
    let input: Floats
    let down: Floats
    let up: Floats
    let outputGradient: Floats

    init(linear: Linear, input: Floats, down: Floats, up: Floats, outputGradient: Floats) {
        self.linear = linear
        self.input = input
        self.down = down
        self.up = up
        self.outputGradient = outputGradient
    }

    /// Bytes held (an input shared by several products is counted by each).
    var byteCount: Int { input.byteCount + down.byteCount + up.byteCount + outputGradient.byteCount }
}

/// A residual block that can be trained: beside its forward, a training forward in f32 that keeps
/// what its backward needs, the input-gradient backward (B) and the weight-gradient backward (W),
/// each over all rows of a micro-batch and threaded through the context's pool. The runner
/// (`Transformer+Training.swift`) handles the block's norms and the residual stream around them.
protocol TrainableBlock: ResidualBlock {
    /// The block on normalised rows `input` ([rows][width]), its output (before any output norm)
    /// into `output` ([rows][width]); returns what B needs.
    func trainingForward(_ input: Floats, into output: UnsafeMutablePointer<Float>, _ step: TrainingStep) -> any BlockActivations
    /// B: the gradient of the block's input rows into `inputGradient` ([rows][width], overwritten) from
    /// that of its output (`outputGradient`, which W may keep); returns what W needs, one entry per adapted product.
    func backwardInput(_ kept: any BlockActivations, outputGradient: Floats, into inputGradient: UnsafeMutablePointer<Float>,
                       _ step: TrainingStep) -> [LoRAGradientInputs]
    /// W: the gradients of the block's LoRA factors, added into their `Parameter.gradient`.
    func backwardWeights(_ inputs: [LoRAGradientInputs], _ step: TrainingStep)
}

extension TrainableBlock {
    /// Each adapted product's dA, dB (a block whose only trainable weights are its products' adapters).
    func backwardWeights(_ inputs: [LoRAGradientInputs], _ step: TrainingStep) {
        for input in inputs { input.linear.backwardWeights(input, step) }
    }
}
