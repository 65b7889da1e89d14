import ChorusPipeline
import ChorusTransport

/// One rank's measured actions of one step, and the compute times behind them.
public struct RankRecord: Codable, Sendable, Equatable {
    public var rank: Int
    /// The rank's program with measured times (ms from the step's common start), in program order.
    public var actions: [TimedAction]
    /// Seconds of each chunk forward, input-gradient backward and weight-gradient backward run.
    public var forwardSeconds: [Double]
    public var backwardSeconds: [Double]
    public var weightSeconds: [Double]
    /// Blocking waits for received data: the recv's program index and the wait's interval (ms).
    public var waits: [ReceiveWait]
    /// Most chunks with forward done and B not done, and most bytes stored, during the step.
    public var peakActivations: Int
    public var peakStoredBytes: Int
}

/// A compute blocked on a receive: which recv (program index) and from when to when (ms).
public struct ReceiveWait: Codable, Sendable, Equatable {
    public var index: Int
    public var start: Double
    public var end: Double
}

/// Every rank's record of one step.
public struct StepRecord: Codable, Sendable, Equatable {
    public var ranks: [RankRecord]
}

/// The state of one rank running its program for one step.
struct StepRun<Operations: StageOperations> {
    struct Key: Hashable { var m: Int; var k: Int }
    struct Posted { var request: any TransportRequest; var buffer: FloatBuffer; var index: Int; var done = false }
    struct Pending { var request: any TransportRequest; var buffer: FloatBuffer; var index: Int }

    let executor: PipelineExecutor<Operations>
    let batches: [Operations.MicroBatch]
    let lossScale: Float
    var ops: Operations { executor.operations }
    var last: Int { executor.schedule.routeLength - 1 }

    var outputs: [Key: FloatBuffer] = [:]        // forward outputs awaiting a local consumer or a send
    var gradients: [Key: FloatBuffer] = [:]      // input gradients awaiting a local consumer or a send
    var activations: [Key: Operations.Activations] = [:]
    var weightInputs: [Key: Operations.WeightInputs] = [:]
    var received: [Slot: Posted] = [:]
    var sends: [Pending] = []
    var postCursor = 0
    var lossSums: [Double?]
    var live = 0, peakLive = 0, bytes = 0, peakBytes = 0
    var starts: [Double], ends: [Double], actives: [Double]
    var record: RankRecord
    let origin: Double

    /// A receive's identity: micro-batch, stage, and what it carries.
    struct Slot: Hashable { var m: Int; var k: Int; var gradient: Bool }

    init(executor: PipelineExecutor<Operations>, batches: [Operations.MicroBatch], lossScale: Float) {
        self.executor = executor
        self.batches = batches
        self.lossScale = lossScale
        lossSums = Array(repeating: nil, count: batches.count)
        let n = executor.program.count
        starts = Array(repeating: 0, count: n)
        ends = Array(repeating: 0, count: n)
        actives = Array(repeating: 0, count: n)
        record = RankRecord(rank: executor.rank, actions: [], forwardSeconds: [], backwardSeconds: [], weightSeconds: [], waits: [],
                            peakActivations: 0, peakStoredBytes: 0)
        origin = monotonicSeconds()
    }

    func now() -> Double { (monotonicSeconds() - origin) * 1000 }

    mutating func execute() throws {
        let program = executor.program
        for (index, action) in program.enumerated() {
            try postReceives(before: index)
            if !action.op.isReceive {
                starts[index] = now()
                actives[index] = starts[index]
            }
            try run(action, index: index)
            if case .recv = action.op { continue }  // completed when its data is waited for
            if case .send = action.op { continue }  // completed when seen complete
            ends[index] = now()
            if !action.op.isCompute { continue }
            try pollSends()
        }
        try finish()
    }

    /// Posts the receives of the program up to `receiveLookahead` compute actions past `index`.
    mutating func postReceives(before index: Int) throws {
        let program = executor.program
        var computes = 0, limit = index
        while limit < program.count {
            if program[limit].op.isCompute {
                computes += 1
                if computes > executor.receiveLookahead { break }
            }
            limit += 1
        }
        while postCursor < min(limit, program.count) {
            let action = program[postCursor]
            if case .recv(let tensor, let peer) = action.op { try post(action, tensor: tensor, peer: peer, index: postCursor) }
            postCursor += 1
        }
    }

    mutating func post(_ action: Action, tensor: ChorusPipeline.Tensor, peer: Int, index: Int) throws {
        guard let transport = executor.transport else { throw TrainingError.invalidPipeline("a receive needs a transport") }
        let m = action.microbatch, k = action.stage
        let boundary = tensor == .activation ? k - 1 : k
        let buffer = FloatBuffer(count: ops.boundaryCount(batches[m], part: boundary))
        let request = try transport.startReceive(into: buffer.writable, from: peer, tag: executor.tag(m, boundary: boundary, tensor))
        received[Slot(m: m, k: k, gradient: tensor == .gradient)] = Posted(request: request, buffer: buffer, index: index)
        starts[index] = now()
        actives[index] = starts[index]
    }

    /// The data of a posted receive, waiting for it (bounded by the transport's timeout).
    mutating func take(_ slot: Slot) throws -> FloatBuffer {
        guard let posted = received.removeValue(forKey: slot), let transport = executor.transport else {
            throw TrainingError.invalidPipeline("rank \(executor.rank): micro-batch \(slot.m) stage \(slot.k) needs a \(slot.gradient ? "gradient" : "activation") no receive brings")
        }
        if !posted.done {
            let waitStart = now()
            try transport.wait(posted.request, for: "the \(slot.gradient ? "gradient" : "activation") of micro-batch \(slot.m) at stage \(slot.k)")
            ends[posted.index] = now()
            record.waits.append(ReceiveWait(index: posted.index, start: waitStart, end: ends[posted.index]))
        }
        return posted.buffer
    }

    mutating func run(_ action: Action, index: Int) throws {
        let m = action.microbatch, k = action.stage
        switch action.op {
        case .forward(.attention): try forward(m, k, index: index)
        case .backward(.attention, let withWeight): try backward(m, k, withWeight: withWeight, index: index)
        case .weight:
            guard let inputs = weightInputs.removeValue(forKey: Key(m: m, k: k)) else {
                throw TrainingError.invalidPipeline("W of micro-batch \(m) stage \(k) runs before its B")
            }
            let t0 = monotonicSeconds()
            try ops.backwardWeight(batches[m], part: k, inputs: inputs)
            record.weightSeconds.append(monotonicSeconds() - t0)
            bytes -= inputs.byteCount
        case .send(let tensor, let peer):
            guard let transport = executor.transport else { throw TrainingError.invalidPipeline("a send needs a transport") }
            let key = Key(m: m, k: k)
            guard let buffer = tensor == .activation ? outputs.removeValue(forKey: key) : gradients.removeValue(forKey: key) else {
                throw TrainingError.invalidPipeline("send of micro-batch \(m) stage \(k) has nothing to send")
            }
            let boundary = tensor == .activation ? k : k - 1
            let request = try transport.startSend(buffer.readable, to: peer, tag: executor.tag(m, boundary: boundary, tensor))
            sends.append(Pending(request: request, buffer: buffer, index: index))
        case .recv(let tensor, _):
            // Posted ahead; its data is taken by the compute that needs it.
            guard received[Slot(m: m, k: k, gradient: tensor == .gradient)] != nil else {
                throw TrainingError.invalidPipeline("receive of micro-batch \(m) stage \(k) was not posted")
            }
        case .forward(.mlp), .backward(.mlp, _), .dispatch, .combine:
            break  // dense parts: no expert all-to-all, the chunk's compute sits in its attention half
        }
    }

    mutating func forward(_ m: Int, _ k: Int, index: Int) throws {
        var input: FloatBuffer?
        if k > 0 {
            input = executor.schedule.rank(microbatch: m, stage: k - 1) == executor.rank
                ? outputs.removeValue(forKey: Key(m: m, k: k - 1)) : try take(Slot(m: m, k: k, gradient: false))
            guard input != nil else { throw TrainingError.invalidPipeline("F of micro-batch \(m) stage \(k) runs before stage \(k - 1)") }
        }
        let output = k < last ? FloatBuffer(count: ops.boundaryCount(batches[m], part: k)) : nil
        starts[index] = now()  // the compute starts once its input is here
        actives[index] = starts[index]
        let t0 = monotonicSeconds()
        let result = try ops.forward(batches[m], part: k, input: input?.readable, output: output?.writable)
        record.forwardSeconds.append(monotonicSeconds() - t0)
        if k == last { lossSums[m] = result.lossSum }
        if let output { outputs[Key(m: m, k: k)] = output }
        activations[Key(m: m, k: k)] = result.activations
        live += 1
        peakLive = max(peakLive, live)
        bytes += result.activations.byteCount
        peakBytes = max(peakBytes, bytes)
    }

    mutating func backward(_ m: Int, _ k: Int, withWeight: Bool, index: Int) throws {
        guard let stored = activations.removeValue(forKey: Key(m: m, k: k)) else {
            throw TrainingError.invalidPipeline("B of micro-batch \(m) stage \(k) runs before its F")
        }
        var outputGradient: FloatBuffer?
        if k < last {
            outputGradient = executor.schedule.rank(microbatch: m, stage: k + 1) == executor.rank
                ? gradients.removeValue(forKey: Key(m: m, k: k + 1)) : try take(Slot(m: m, k: k, gradient: true))
            guard outputGradient != nil else { throw TrainingError.invalidPipeline("B of micro-batch \(m) stage \(k) runs before stage \(k + 1)'s") }
        }
        let inputGradient = k > 0 ? FloatBuffer(count: ops.boundaryCount(batches[m], part: k - 1)) : nil
        starts[index] = now()
        actives[index] = starts[index]
        let t0 = monotonicSeconds()
        let inputs = try ops.backwardInput(batches[m], part: k, activations: stored, outputGradient: outputGradient?.readable,
                                           lossScale: lossScale, inputGradient: inputGradient?.writable)
        let t1 = monotonicSeconds()
        record.backwardSeconds.append(t1 - t0)
        live -= 1
        bytes += inputs.byteCount - stored.byteCount
        peakBytes = max(peakBytes, bytes)
        if withWeight {
            try ops.backwardWeight(batches[m], part: k, inputs: inputs)
            record.weightSeconds.append(monotonicSeconds() - t1)
            bytes -= inputs.byteCount
        } else {
            weightInputs[Key(m: m, k: k)] = inputs
        }
        if let inputGradient { gradients[Key(m: m, k: k)] = inputGradient }
    }

    /// Retires sends that have completed (their buffers are freed).
    mutating func pollSends() throws {
        var kept: [Pending] = []
        for send in sends {
            if try send.request.test() { ends[send.index] = now() } else { kept.append(send) }
        }
        sends = kept
        for (slot, posted) in received where !posted.done {
            if try posted.request.test() {
                received[slot]!.done = true
                ends[posted.index] = now()
            }
        }
    }

    /// The flush: waits for the last sends and checks nothing was left behind.
    mutating func finish() throws {
        for send in sends {
            try executor.transport?.wait(send.request, for: "a send of rank \(executor.rank) to complete")
            ends[send.index] = max(ends[send.index], now())
        }
        sends = []
        let leftovers = activations.count + weightInputs.count + received.count + outputs.count + gradients.count
        guard leftovers == 0 else {
            throw TrainingError.invalidPipeline("rank \(executor.rank)'s program ended with \(activations.count) forwards without B, \(weightInputs.count) B's without W, \(received.count) unused receives and \(outputs.count + gradients.count) unsent tensors")
        }
        for (index, action) in executor.program.enumerated() {
            let lane: Lane = action.op.isCompute ? .compute : .communication
            let end = max(ends[index], starts[index])
            record.actions.append(TimedAction(action: action, lane: lane, start: starts[index], end: end, activeStart: min(actives[index], end)))
        }
        record.peakActivations = peakLive
        record.peakStoredBytes = peakBytes
    }
}
