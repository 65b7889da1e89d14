import Chorus
import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTransport
import Foundation

/// How a run is split across ranks.
public struct DistributedPlan: Sendable, Equatable {
    /// Pipeline stages (P).
    public var stages: Int
    /// Tensor-parallel slices per stage (T).
    public var slices: Int
    /// Micro-batches a forward pass's rows are cut into.
    public var microbatches: Int
    /// Balance stages by measured per-layer cost (else by layer count).
    public var balanceByCost: Bool
    /// Record every rank's intervals for `--trace`.
    public var trace: Bool

    public init(stages: Int, slices: Int, microbatches: Int = 1, balanceByCost: Bool = true, trace: Bool = false) {
        self.stages = stages
        self.slices = slices
        self.microbatches = microbatches
        self.balanceByCost = balanceByCost
        self.trace = trace
    }
}

/// One rank's share of a distributed run, from start-up checks to the end.
///
/// Start-up, on every rank in the same order (each step a collective, so a failure anywhere is
/// seen everywhere): the rank count must be P x T; every rank hashes its model file (SHA-256) and
/// the digests must agree; the stage map must fit (P <= layers, T <= KV heads); every rank loads
/// its part and reports success or its error; stages are timed and, if balancing moves blocks,
/// reloaded. Then rank 0 gets a `LanguageModel` whose `forwardPass` is the pipeline driver, and the
/// other ranks serve (`serve()`) until rank 0 finishes.
public final class DistributedSession {
    public let transport: any Transport
    public let layout: RankLayout
    public private(set) var stageMap: StageMap
    public let plan: DistributedPlan
    /// This rank's model part (rank 0's drives the run).
    public private(set) var model: LanguageModel
    /// Per-layer and output-head costs the stage map was balanced with (seconds per 16-row micro-batch), if measured.
    public private(set) var measuredCosts: (perLayer: [Double], head: Double)?
    let recorder: TraceRecorder
    let modelName: String
    let threads: Int
    private var driver: PipelineDriver?

    public var isDriver: Bool { transport.rank == 0 }

    /// Runs the start-up on this rank; throws the same error on every rank when the run cannot start.
    public init(transport: any Transport, modelPath: String, modelName: String, threads: Int, context: Int?, maxBatch: Int,
                plan: DistributedPlan) throws {
        self.transport = transport
        self.plan = plan
        self.modelName = modelName
        self.threads = threads
        layout = RankLayout(stages: plan.stages, slices: plan.slices)
        guard plan.stages >= 1, plan.slices >= 1 else { throw DistributedError.invalidSetup("--pipeline-stages and --tensor-parallel must be at least 1") }
        guard transport.size == layout.size else {
            throw DistributedError.invalidSetup("--pipeline-stages \(plan.stages) x --tensor-parallel \(plan.slices) needs \(layout.size) ranks, but this run has \(transport.size) (use mpirun -np \(layout.size))")
        }
        let rank = transport.rank
        let stage = layout.stage(of: rank), slice = layout.slice(of: rank)
        // Tensor-parallel groups: one per stage (a collective every rank joins, before anything can fail).
        let group = plan.slices > 1 ? try transport.makeGroup(color: stage) : nil

        // Same model everywhere?
        let digest: Result<[UInt8], Error> = Result { try Self.sha256(ofFile: modelPath) }
        try Self.agree(transport, on: digest.map { _ in () }, what: "could not read the model file")
        let digests = try transport.allGather(try digest.get())
        if let differing = digests.firstIndex(where: { $0 != digests[0] }) {
            throw DistributedError.modelDiffers(
                "the model file differs between ranks: rank 0 has SHA-256 \(SHA256.hex(digests[0]).prefix(16))..., rank \(differing) has \(SHA256.hex(digests[differing]).prefix(16))... (every host needs the same file: chorus pull MODEL on each)")
        }

        // Does the split fit the model? (Same answer on every rank: same file.)
        let config = try ModelConfig(metadata: try GGUFFile(path: modelPath).metadata)
        var map = try StageMap.even(layers: config.layerCount, stages: plan.stages)
        if plan.slices > 1 { _ = try ModelPart(tensorSlice: 0, tensorSlices: plan.slices).slice(of: config) }

        func load(_ map: StageMap) throws -> LanguageModel {
            let part = ModelPart(layers: map.ranges[stage], tensorSlice: slice, tensorSlices: plan.slices)
            let loaded: Result<LanguageModel, Error> = Result {
                if FaultInjection(rank: rank).fault == .load { throw FaultInjection.injectedLoadFailure }
                let m = try LanguageModel(path: modelPath, pool: ThreadPool(threads: threads), context: context, maxBatch: maxBatch, part: part)
                guard let group else { return m }
                return try m.with { $0.allGather = { send, receive in
                    do {
                        try transport.allGather(send, into: receive, group: group)
                    } catch {
                        transport.abort(code: 1, message: "chorus: rank \(transport.rank): tensor-parallel all-gather failed: \(error)")
                    }
                } }
            }
            try Self.agree(transport, on: loaded.map { _ in () }, what: "could not load its part of the model")
            return try loaded.get()
        }
        model = try load(map)

        if plan.stages > 1 && plan.balanceByCost {
            // One stage at a time, so the measurements do not compete for the cores.
            var outcome: Result<(perLayer: Double, head: Double), Error> = .success((0, 0))
            let transformer = model.transformer
            for s in 0..<plan.stages {
                try transport.barrier()
                if s == stage { outcome = Result { try Self.measureStage(transformer) } }
            }
            try Self.agree(transport, on: outcome.map { _ in () }, what: "could not time its stage")
            let measured = try outcome.get()
            var mine = [measured.perLayer, measured.head]
            let bytes = mine.withUnsafeBytes { Array($0) }
            mine = []
            let all = try transport.allGather(bytes).map { b in b.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } }
            // Stage leaders' measurements: every block of a stage costs its stage's mean.
            var layerCosts: [Double] = []
            for s in 0..<plan.stages {
                let leader = all[layout.rank(stage: s, slice: 0)]
                layerCosts += Array(repeating: leader[0], count: map.ranges[s].count)
            }
            let headCost = all[layout.rank(stage: plan.stages - 1, slice: 0)][1]
            measuredCosts = (layerCosts, headCost)
            let balanced = try StageMap.balanced(layerCosts: layerCosts, firstCost: 0, lastCost: headCost, stages: plan.stages)
            if balanced != map {
                map = balanced
                model = try load(map)
            }
        }
        stageMap = map
        recorder = TraceRecorder(enabled: plan.trace, origin: 0)
        try transport.barrier()
        recorder.origin = monotonicSeconds()
        if rank == 0 {
            let driver = PipelineDriver(transport: transport, layout: layout, transformer: model.transformer,
                                        microbatches: plan.microbatches, recorder: recorder)
            model.forwardPass = driver
            self.driver = driver
        }
    }

    /// Lines describing the split, for rank 0 to print at start.
    public var summary: [String] {
        var lines = ["distributed: \(layout.size) ranks = \(plan.stages) pipeline stage(s) x \(plan.slices) tensor slice(s), \(threads) thread(s) per rank, \(plan.microbatches) micro-batch(es)"]
        for (s, r) in stageMap.ranges.enumerated() {
            var extras: [String] = []
            if s == 0 { extras.append("embeddings") }
            if s == plan.stages - 1 { extras.append("output head") }
            let ranks = (0..<plan.slices).map { String(layout.rank(stage: s, slice: $0)) }.joined(separator: ",")
            lines.append("  stage \(s): layers \(r.lowerBound)..<\(r.upperBound) (\(r.count))\(extras.isEmpty ? "" : " + " + extras.joined(separator: ", ")) on rank(s) \(ranks)")
        }
        if let costs = measuredCosts {
            let perStage = stageMap.ranges.enumerated().map { s, r in
                r.map { costs.perLayer[$0] }.reduce(0, +) + (s == plan.stages - 1 ? costs.head : 0)
            }
            lines.append("  balanced by measured cost of a 16-row micro-batch: layer " + plan.stagesList(costs.perLayer, map: stageMap)
                         + String(format: " ms, head %.3f ms; stage totals ", costs.head * 1000)
                         + perStage.map { String(format: "%.2f", $0 * 1000) }.joined(separator: " / ") + " ms")
        }
        return lines
    }

    /// Every rank but 0: serve micro-batches until rank 0 finishes, then hand in the trace.
    public func serve() throws {
        precondition(!isDriver)
        let worker = PipelineWorker(transport: transport, layout: layout, transformer: model.transformer,
                                    cache: model.makeCache(), recorder: recorder)
        try worker.serve()
        if plan.trace {
            let data = try JSONEncoder().encode(recorder.events)
            try transport.send([Int64(data.count)], to: 0, tag: MessageTag.traceLength)
            try transport.send(Array(data), to: 0, tag: MessageTag.trace)
        }
    }

    /// Rank 0: tells the others the run is over (`failed`: after an error here) and, with tracing on
    /// and no failure, collects every rank's intervals.
    public func finish(failed: Bool) throws -> Trace? {
        precondition(isDriver)
        try driver?.finish(failed: failed)
        guard plan.trace, !failed else { return nil }
        var ranks = [recorder.events]
        for r in 1..<layout.size {
            let length = try transport.receive(Int64.self, count: 1, from: r, tag: MessageTag.traceLength)[0]
            let bytes = try transport.receive(UInt8.self, count: Int(length), from: r, tag: MessageTag.trace)
            ranks.append(try JSONDecoder().decode([TraceEvent].self, from: Data(bytes)))
        }
        return Trace(model: modelName, layout: layout, stageMap: stageMap, threadsPerRank: threads, ranks: ranks)
    }

    /// Fails every rank with the first failing rank's message unless `outcome` succeeded on all.
    static func agree(_ transport: any Transport, on outcome: Result<Void, Error>, what: String) throws {
        var message = [UInt8](repeating: 0, count: 400)
        if case .failure(let error) = outcome {
            message[0] = 1
            let text = Array("\(what): \(error)".utf8.prefix(message.count - 1))
            message.replaceSubrange(1..<1 + text.count, with: text)
        }
        let all = try transport.allGather(message)
        guard let bad = all.firstIndex(where: { $0[0] != 0 }) else { return }
        let text = String(decoding: all[bad][1...].prefix { $0 != 0 }, as: UTF8.self)
        throw DistributedError.rankFailed(rank: bad, host: bad == transport.rank ? transport.hostName : "", message: text)
    }

    /// Seconds of one block of this stage (mean over its blocks) and of the final norm and output
    /// head (0 off the last stage) on a 16-row micro-batch with logits for half its rows (the
    /// perplexity pattern; prompt prefill needs one row's): medians of timed runs after warm-up.
    /// Micro-batched work is what balance speeds up: one decode step visits every stage in turn
    /// whatever the split.
    static func measureStage(_ t: Transformer) throws -> (perLayer: Double, head: Double) {
        let cache = t.makeCache(capacity: 16)
        let rows = min(16, t.maxBatch, cache.capacity)
        let d = t.hiddenWidth
        let input = UnsafeMutablePointer<Float>.allocate(capacity: rows * d)
        defer { input.deallocate() }
        for i in 0..<rows * d { input[i] = Float((i * 7919) % 97) / 97 - 0.5 }
        let batch = Batch.sequence(Array(repeating: 1, count: rows), start: 0)
        let logitRows = Array(rows / 2..<rows)
        func time(logits: Bool) throws -> Double {
            var samples: [Double] = []
            for _ in 0..<7 {
                let start = monotonicSeconds()
                _ = try t.forwardStage(batch, rows: 0..<rows, cache: cache, input: t.isFirstStage ? nil : input,
                                       logitRows: logits ? logitRows : [])
                samples.append(monotonicSeconds() - start)
            }
            samples.removeFirst(2)
            return samples.sorted()[samples.count / 2]
        }
        let body = try time(logits: false)
        let withHead = t.isLastStage ? try time(logits: true) : body
        return (body / Double(t.layers.count), max(0, withHead - body))
    }

    static func sha256(ofFile path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DistributedError.invalidSetup("cannot open \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk = try handle.read(upToCount: 8 << 20) ?? Data()
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalize()
    }
}

extension DistributedPlan {
    /// Per-stage mean layer cost in ms, "a / b / c".
    func stagesList(_ perLayer: [Double], map: StageMap) -> String {
        map.ranges.map { r in String(format: "%.3f", (r.isEmpty ? 0 : perLayer[r.lowerBound]) * 1000) }.joined(separator: " / ")
    }
}
