import ChorusModels
import ChorusTransport

/// Rank 0's side of a distributed run: a `ForwardPass` that runs stage 0 (slice 0) itself and the
/// rest of the model on the other ranks.
///
/// A batch is cut into micro-batches (a token tree's micro-batches carry the whole tree's positions
/// and parents, so their rows see ancestors run in earlier micro-batches); each goes through stage 0 and on down the pipeline with
/// non-blocking sends, so stage 0 computes micro-batch m+1 while stage 1 computes m (GPipe's forward
/// order, the only order a forward-only pass has). The last stage sends the requested logit rows
/// back; their receives are posted before any compute, so they land while rank 0 still computes.
public final class PipelineDriver: ForwardPass {
    let transport: any Transport
    let layout: RankLayout
    public let transformer: Transformer
    let microbatches: Int
    let recorder: TraceRecorder
    /// Forward passes run so far (their index on the wire and in traces).
    var forwardCount = 0
    private var logits: UnsafeMutablePointer<Float>
    private var logitCapacity = 0
    private var outbox: [Outgoing]
    private var finished = false

    /// A hidden-state send in flight and the buffers it reads.
    final class Outgoing {
        let header: UnsafeMutableBufferPointer<Int32>
        let hidden: UnsafeMutableBufferPointer<Float>
        var requests: [any TransportRequest] = []
        var postedAt = 0.0
        var microbatch = 0

        init(maxRows: Int, width: Int) {
            header = .allocate(capacity: StageHeader.capacity(maxRows: maxRows))
            hidden = .allocate(capacity: maxRows * width)
        }

        deinit {
            header.deallocate()
            hidden.deallocate()
        }
    }

    init(transport: any Transport, layout: RankLayout, transformer: Transformer, microbatches: Int, recorder: TraceRecorder) {
        self.transport = transport
        self.layout = layout
        self.transformer = transformer
        self.microbatches = max(1, microbatches)
        self.recorder = recorder
        logits = .allocate(capacity: 1)
        outbox = (0..<2).map { _ in Outgoing(maxRows: transformer.maxBatch, width: transformer.hiddenWidth) }
    }

    deinit { logits.deallocate() }

    public func forward(_ batch: Batch, cache: KVCache) throws -> Logits {
        let vocab = transformer.config.vocabularySize
        var parents: [Int] = []
        switch batch.visibility {
        case .causal:
            guard batch.positions == Array(batch.firstSlot..<batch.firstSlot + batch.count) else {
                throw DistributedError.invalidSetup("a distributed run takes causal batches whose positions are their slots")
            }
        case .tree(let treeParents):
            guard batch.count <= transformer.maxBatch else {
                throw ModelError.invalidConfig("a token tree of \(batch.count) nodes exceeds the batch limit \(transformer.maxBatch)")
            }
            parents = treeParents
        }
        guard batch.firstSlot + batch.count <= cache.capacity else {
            throw ModelError.contextOverflow(needed: batch.firstSlot + batch.count, capacity: cache.capacity)
        }
        let n = batch.count
        let index = forwardCount
        forwardCount += 1
        guard n > 0 else { return Logits(rowsAt: logits, rows: 0, vocabularySize: vocab) }
        let ranges = Self.microbatchRanges(rows: n, microbatches: microbatches, maxRows: transformer.maxBatch)
        let logitRowsOf = ranges.map { r in batch.logitRows.filter { r.contains($0) } }
        let total = batch.logitRows.count
        if total * vocab > logitCapacity {
            logits.deallocate()
            logits = .allocate(capacity: total * vocab)
            logitCapacity = total * vocab
        }

        // Logits come back from the last stage's first slice; post every receive before computing.
        let lastLeader = layout.rank(stage: layout.stages - 1, slice: 0)
        var incoming: [(any TransportRequest, Int)] = []
        var offset = 0
        if layout.stages > 1 {
            for (m, rows) in logitRowsOf.enumerated() where !rows.isEmpty {
                let target = UnsafeMutableBufferPointer(start: logits + offset * vocab, count: rows.count * vocab)
                incoming.append((try transport.startReceive(into: target, from: lastLeader, tag: MessageTag.logits), m))
                offset += rows.count
            }
        }

        offset = 0
        for (m, rows) in ranges.enumerated() {
            let header = parents.isEmpty
                ? StageHeader(op: .forward, rows: rows.count, firstSlot: batch.firstSlot + rows.lowerBound, microbatch: m,
                              microbatches: ranges.count, forwardIndex: index, tokens: Array(batch.tokens[rows]),
                              logitRows: logitRowsOf[m].map { $0 - rows.lowerBound })
                : StageHeader(op: .forward, rows: rows.count, firstSlot: batch.firstSlot, microbatch: m, microbatches: ranges.count,
                              forwardIndex: index, tokens: batch.tokens, logitRows: logitRowsOf[m], positions: batch.positions,
                              parents: parents, rowOffset: rows.lowerBound)
            // Stage 0's other slices run the same rows (they need the tokens).
            try sendToStageZeroSlices(header)
            let start = monotonicSeconds()
            let out = try transformer.forwardStage(batch, rows: rows, cache: cache, input: nil, logitRows: logitRowsOf[m])
            recorder.record(.compute, forward: index, microbatch: m, since: start)
            if layout.stages == 1 {
                (logits + offset * vocab).update(from: out.base, count: out.rows * vocab)
                offset += out.rows
            } else {
                try send(header, hidden: transformer.stageOutput, to: layout.rank(stage: 1, slice: 0), forward: index)
            }
        }
        for box in outbox { try complete(box, forward: index, peer: layout.rank(stage: 1, slice: 0)) }
        for (request, m) in incoming {
            let start = monotonicSeconds()
            try transport.wait(request, for: "logits from rank \(lastLeader)")
            recorder.record(.wait, forward: index, microbatch: m, since: start, peer: lastLeader)
        }
        if parents.isEmpty { cache.count = batch.firstSlot + n }
        return Logits(rowsAt: logits, rows: total, vocabularySize: vocab)
    }

    /// Keeps a verified tree's accepted rows here and, when any moves a slot, on every other rank
    /// (a commit header down the pipeline, after the tree's own messages).
    public func commitTree(rows: [Int], committed: Int, cache: KVCache) throws {
        cache.keepTree(rows: rows, committed: committed)
        guard !KVCache.treeMoves(rows: rows, committed: committed).isEmpty else { return }
        try sendDown(StageHeader.commit(accepted: rows, committed: committed))
    }

    private func sendToStageZeroSlices(_ header: StageHeader) throws {
        for slice in 1..<max(1, layout.slices) {
            try transport.send(header.encoded, to: layout.rank(stage: 0, slice: slice), tag: MessageTag.header)
        }
    }

    /// A header without hidden states to every rank rank 0 feeds: stage 0's other slices and stage 1.
    private func sendDown(_ header: StageHeader) throws {
        try sendToStageZeroSlices(header)
        if layout.stages > 1 {
            try transport.send(header.encoded, to: layout.rank(stage: 1, slice: 0), tag: MessageTag.header)
        }
    }

    /// Posts `header` and the stage's hidden states to `peer` from the next free outgoing buffer.
    private func send(_ header: StageHeader, hidden: UnsafePointer<Float>, to peer: Int, forward: Int) throws {
        let box = outbox[header.microbatch % outbox.count]
        try complete(box, forward: forward, peer: peer)
        let words = header.encoded
        _ = UnsafeMutableBufferPointer(rebasing: box.header[0..<words.count]).update(fromContentsOf: words)
        let count = header.rows * transformer.hiddenWidth
        box.hidden.baseAddress!.update(from: hidden, count: count)
        box.postedAt = monotonicSeconds()
        box.microbatch = header.microbatch
        box.requests = [
            try transport.startSend(UnsafeBufferPointer(rebasing: box.header[0..<words.count]), to: peer, tag: MessageTag.header),
            try transport.startSend(UnsafeBufferPointer(rebasing: box.hidden[0..<count]), to: peer, tag: MessageTag.hidden),
        ]
    }

    private func complete(_ box: Outgoing, forward: Int, peer: Int) throws {
        guard !box.requests.isEmpty else { return }
        for r in box.requests { try transport.wait(r, for: "rank \(peer) to take hidden states") }
        box.requests = []
        recorder.record(.send, forward: forward, microbatch: box.microbatch, since: box.postedAt, peer: peer)
    }

    /// Tells every other rank the run is over (`failed`: because rank 0 hit an error). Idempotent.
    public func finish(failed: Bool) throws {
        guard !finished else { return }
        finished = true
        try sendDown(StageHeader(op: failed ? .failed : .stop))
    }

    /// Row ranges of the micro-batches: `microbatches` nearly equal parts, none longer than `maxRows`.
    public static func microbatchRanges(rows n: Int, microbatches k: Int, maxRows: Int) -> [Range<Int>] {
        let parts = max(min(max(1, k), n), (n + maxRows - 1) / maxRows)
        return (0..<parts).map { i in i * n / parts..<(i + 1) * n / parts }
    }
}
