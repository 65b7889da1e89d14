import ChorusModels
import ChorusPipeline
import ChorusTransport
import Foundation

/// Runs one rank's program of a pipeline schedule (ChorusPipeline's actions: F, B, W per micro-batch and
/// route stage, sends and receives) against `StageOperations`, as one training step:
///
/// - compute actions call the operations: a chunk's whole forward runs at its `F.attn` action and its whole
///   backward at `B.attn` (a dense model has no expert all-to-all between the halves, so `F.mlp`, `B.mlp`,
///   dispatch and combine are instants in the trace, matching a cost model with `attentionShare` 1);
///   `B` with `withWeight` runs W right after it, a separate `W` action runs it later;
/// - sends are non-blocking (`Transport.startSend`) and complete in the background; receives are posted
///   ahead (up to `receiveLookahead` compute actions before the program reaches them) and waited for only by
///   the compute that needs their data, so communication overlaps compute as in the simulator's overlap mode;
/// - after the program (the flush) the gradients of parts held by two ranks (DualPipe's two copies) are
///   summed between them, the optimiser updates this rank's parameters, and the micro-batch losses are
///   gathered on every rank.
///
/// It tracks the activations it stores (forward done, B not done: the simulator's `peak_activations`) and
/// the bytes they and W's inputs take, and can record every action's measured interval (`StepRecord`).
///
/// Equality with the unsplit computation: every part's weight gradients accumulate in micro-batch order
/// under every schedule (`accumulatesInMicrobatchOrder`, checked at creation), and each micro-batch runs the
/// same code on the same rows, so gradients and losses are bitwise those of running the micro-batches one
/// after another through the whole model — except for parts held twice (DualPipe), whose gradient is the
/// sum of two partial sums (first and second half of the micro-batches), equal to the unsplit sum within
/// float rounding (about 1e-7 relative).
public final class PipelineExecutor<Operations: StageOperations> {
    public let schedule: Schedule
    public let rank: Int
    public let operations: Operations
    /// Optimiser updating this rank's parameters after the flush (nil: gradients only).
    public var optimizer: AdamW?
    /// Compute actions ahead of the program's position whose receives are already posted.
    public var receiveLookahead = 2
    /// Record every action's interval (costs a barrier per step and a gather at its end).
    public var recording = false
    /// Whether every local part's W's run in micro-batch order (so accumulation is order-exact).
    public let accumulatesInMicrobatchOrder: Bool

    let transport: (any Transport)?
    let program: [Action]
    /// Parts held on this rank, ascending.
    public let localParts: [Int]
    /// Ranks holding each part.
    let holders: [[Int]]
    private var copyGroup: TransportGroup?

    /// Prepares `rank`'s program. `transport` may be nil only for a one-rank schedule. Every rank must create
    /// its executor at the same point (DualPipe makes a transport group).
    public init(schedule: Schedule, rank: Int, transport: (any Transport)?, operations: Operations) throws {
        guard rank >= 0, rank < schedule.ranks else { throw TrainingError.invalidPipeline("rank \(rank) is outside a \(schedule.ranks)-rank schedule") }
        guard operations.partCount == schedule.routeLength else {
            throw TrainingError.invalidPipeline("the model is cut into \(operations.partCount) parts but the \(schedule.kind.rawValue) schedule has \(schedule.routeLength) stages")
        }
        if schedule.ranks > 1 {
            guard let transport else { throw TrainingError.invalidPipeline("a \(schedule.ranks)-rank schedule needs a transport") }
            guard transport.size == schedule.ranks, transport.rank == rank else {
                throw TrainingError.invalidPipeline("the schedule has \(schedule.ranks) ranks but the run has \(transport.size) (this is rank \(transport.rank))")
            }
        }
        let maxTag = Self.tagBase + (schedule.microbatches * schedule.routeLength) * 2
        guard maxTag < 32_000 else {
            throw TrainingError.invalidPipeline("\(schedule.microbatches) micro-batches x \(schedule.routeLength) stages need more message tags than MPI guarantees (32767)")
        }
        self.schedule = schedule
        self.rank = rank
        self.transport = transport
        self.operations = operations
        self.program = schedule.actions[rank]
        var holders = Array(repeating: [Int](), count: schedule.routeLength)
        for m in 0..<schedule.microbatches {
            for k in 0..<schedule.routeLength {
                let r = schedule.rank(microbatch: m, stage: k)
                if !holders[k].contains(r) { holders[k].append(r) }
            }
        }
        self.holders = holders.map { $0.sorted() }
        localParts = (0..<schedule.routeLength).filter { holders[$0].contains(rank) }
        accumulatesInMicrobatchOrder = Self.weightOrderIsMicrobatchOrder(program)
        let copies = self.holders.filter { $0.count > 1 }
        if !copies.isEmpty {
            guard let transport else { throw TrainingError.invalidPipeline("parts held by two ranks need a transport") }
            guard copies.allSatisfy({ $0.count == 2 }) else { throw TrainingError.invalidPipeline("a part is held by more than two ranks") }
            // Every rank joins a group with the other holder of its parts (DualPipe: ranks r and P-1-r).
            let partner = copies.first { $0.contains(rank) }
            copyGroup = try transport.makeGroup(color: partner?.min() ?? rank)
        }
    }

    static var tagBase: Int { 1000 }

    /// Message tag of the activation (or gradient) crossing the boundary after `stage` of `microbatch`.
    func tag(_ microbatch: Int, boundary stage: Int, _ tensor: ChorusPipeline.Tensor) -> Int {
        Self.tagBase + (microbatch * schedule.routeLength + stage) * 2 + (tensor == .activation ? 0 : 1)
    }

    static func weightOrderIsMicrobatchOrder(_ program: [Action]) -> Bool {
        var last: [Int: Int] = [:]
        for action in program {
            switch action.op {
            case .weight, .backward(.attention, withWeight: true):
                if let previous = last[action.stage], previous > action.microbatch { return false }
                last[action.stage] = action.microbatch
            default: break
            }
        }
        return true
    }

    /// The parameters of this rank's parts, part by part.
    public var parameters: [Parameter] { localParts.flatMap { operations.parameters(part: $0) } }

    /// Runs one optimiser step over `batches` (one per micro-batch, in order): zeroes the gradients, runs the
    /// program, sums the copies' gradients, updates with `learningRate` when an optimiser is set, and
    /// gathers the losses. `lossScale` is d(step loss)/d(token loss), e.g. 1 / (loss tokens in the step).
    public func step(_ batches: [Operations.MicroBatch], lossScale: Float, learningRate: Float? = nil) throws -> StepReport {
        guard batches.count == schedule.microbatches else {
            throw TrainingError.invalidPipeline("the step has \(batches.count) micro-batches but the schedule \(schedule.microbatches)")
        }
        for parameter in parameters { parameter.zeroGradient() }
        if recording, let transport { try transport.barrier() }
        var run = StepRun(executor: self, batches: batches, lossScale: lossScale)
        try run.execute()
        try reduceCopies()
        if let learningRate, optimizer != nil { optimizer!.update(parameters, learningRate: learningRate) }
        let lossSums = try gatherLosses(run.lossSums)
        var total = 0.0
        for sum in lossSums { total += sum }
        var record: StepRecord?
        if recording { record = try gatherRecord(run.record) }
        return StepReport(loss: total * Double(lossScale), microbatchLossSums: lossSums,
                          peakActivations: run.peakLive, peakStoredBytes: run.peakBytes, record: record)
    }

    private func reduceCopies() throws {
        guard let copyGroup, let transport else { return }
        let shared = localParts.filter { holders[$0].count > 1 }.flatMap { operations.parameters(part: $0) }
        guard !shared.isEmpty else { return }
        var buffer = [Float]()
        buffer.reserveCapacity(shared.reduce(0) { $0 + $1.count })
        for parameter in shared { buffer += parameter.gradient }
        try buffer.withUnsafeMutableBufferPointer { try transport.allReduceSum($0, group: copyGroup) }
        var offset = 0
        for parameter in shared {
            parameter.gradient = Array(buffer[offset..<offset + parameter.count])
            offset += parameter.count
        }
    }

    /// Every micro-batch's loss sum, from whichever rank ran its last part (exact: bytes are gathered).
    private func gatherLosses(_ local: [Double?]) throws -> [Double] {
        guard let transport, schedule.ranks > 1 else { return local.map { $0 ?? .nan } }
        var bytes: [UInt8] = []
        for value in local { withUnsafeBytes(of: (value ?? .nan).bitPattern.littleEndian) { bytes += $0 } }
        let all = try transport.allGather(bytes)
        var out = Array(repeating: Double.nan, count: local.count)
        for rankBytes in all {
            for m in 0..<local.count {
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(rankBytes[m * 8 + b]) << (8 * b) }
                let value = Double(bitPattern: bits)
                if !value.isNaN { out[m] = value }
            }
        }
        return out
    }

    private func gatherRecord(_ local: RankRecord) throws -> StepRecord {
        guard let transport, schedule.ranks > 1 else { return StepRecord(ranks: [local]) }
        let all = try transport.allGatherVariable([UInt8](try JSONEncoder().encode(local)))
        return StepRecord(ranks: try all.map { try JSONDecoder().decode(RankRecord.self, from: Data($0)) })
    }
}

/// What one step produced.
public struct StepReport: Sendable {
    /// The step's loss: the sum of the micro-batches' loss sums times the loss scale.
    public var loss: Double
    /// Per micro-batch, the sum of its token losses (on every rank).
    public var microbatchLossSums: [Double]
    /// Most chunks with forward done and B not done on this rank (compare `Schedule.peakActivations`).
    public var peakActivations: Int
    /// Most bytes held by stored activations and W inputs on this rank.
    public var peakStoredBytes: Int
    /// Every rank's measured actions (when recording).
    public var record: StepRecord?
}

/// An f32 buffer whose address stays put while a transfer uses it.
final class FloatBuffer {
    let pointer: UnsafeMutableBufferPointer<Float>
    init(count: Int) {
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0)
        self.count = count
    }
    let count: Int
    var readable: UnsafeBufferPointer<Float> { UnsafeBufferPointer(rebasing: pointer[0..<count]) }
    var writable: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(rebasing: pointer[0..<count]) }
    deinit { pointer.deallocate() }
}
