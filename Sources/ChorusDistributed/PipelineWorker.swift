import ChorusModels
import ChorusTransport
import Foundation

/// Every rank but 0: waits for micro-batches from the previous stage (or, on stage 0's other
/// tensor slices, from rank 0), runs its blocks on them, and passes hidden states on (or, on the
/// last stage, sends the logits to rank 0), until told to stop. A commit (a verified token tree's
/// accepted rows) is applied to this rank's cache and passed on.
///
/// The receive of the next message is posted before the current micro-batch is computed, and sends
/// are non-blocking from double buffers, so communication overlaps compute.
final class PipelineWorker {
    let transport: any Transport
    let layout: RankLayout
    let transformer: Transformer
    let cache: KVCache
    let recorder: TraceRecorder

    init(transport: any Transport, layout: RankLayout, transformer: Transformer, cache: KVCache, recorder: TraceRecorder) {
        self.transport = transport
        self.layout = layout
        self.transformer = transformer
        self.cache = cache
        self.recorder = recorder
    }

    /// A posted receive of one message (header and, after stage 0, hidden states).
    final class Incoming {
        let header: UnsafeMutableBufferPointer<Int32>
        let hidden: UnsafeMutableBufferPointer<Float>
        var headerRequest: (any TransportRequest)?
        var hiddenRequest: (any TransportRequest)?

        init(maxRows: Int, width: Int) {
            header = .allocate(capacity: StageHeader.capacity(maxRows: maxRows))
            header.initialize(repeating: 0)
            hidden = .allocate(capacity: maxRows * width)
        }

        deinit {
            header.deallocate()
            hidden.deallocate()
        }
    }

    /// Buffers of a send in flight.
    final class Outgoing {
        let header: UnsafeMutableBufferPointer<Int32>
        private(set) var payload: UnsafeMutableBufferPointer<Float>
        var requests: [any TransportRequest] = []
        var postedAt = 0.0
        var microbatch = 0

        init(maxRows: Int, width: Int) {
            header = .allocate(capacity: StageHeader.capacity(maxRows: maxRows))
            payload = .allocate(capacity: max(1, maxRows * width))
        }

        /// Room for `count` floats (logit rows are allocated as they are asked for; no send may be in flight).
        func reserve(_ count: Int) {
            guard count > payload.count else { return }
            payload.deallocate()
            payload = .allocate(capacity: count)
        }

        deinit {
            header.deallocate()
            payload.deallocate()
        }
    }

    /// Serves until rank 0 says stop; throws if rank 0 failed or a transfer failed or timed out.
    func serve() throws {
        let rank = transport.rank
        let stage = layout.stage(of: rank), slice = layout.slice(of: rank)
        let source = stage == 0 ? 0 : layout.rank(stage: stage - 1, slice: slice)
        let next: Int? = stage + 1 < layout.stages ? layout.rank(stage: stage + 1, slice: slice) : nil
        let sendsLogits = next == nil && slice == 0
        let width = transformer.hiddenWidth, vocab = transformer.config.vocabularySize
        let maxRows = transformer.maxBatch
        let inbox = (0..<2).map { _ in Incoming(maxRows: maxRows, width: width) }
        // The last stage sends logits; their buffers grow to the rows asked for.
        let outbox = (0..<2).map { _ in Outgoing(maxRows: maxRows, width: sendsLogits ? 1 : width) }
        let downstream = next ?? 0

        func post(_ box: Incoming) throws {
            box.headerRequest = try transport.startReceive(into: box.header, from: source, tag: MessageTag.header)
            box.hiddenRequest = stage > 0 ? try transport.startReceive(into: box.hidden, from: source, tag: MessageTag.hidden) : nil
        }
        func complete(_ box: Outgoing, forward: Int) throws {
            guard !box.requests.isEmpty else { return }
            for r in box.requests { try transport.wait(r, for: "rank \(downstream) to take a message") }
            box.requests = []
            recorder.record(.send, forward: forward, microbatch: box.microbatch, since: box.postedAt, peer: downstream)
        }

        var dieAt: Int? = nil
        if case .die(let n) = FaultInjection(rank: rank).fault { dieAt = n }
        try post(inbox[0])
        var turn = 0
        var lastForward = 0
        while true {
            let box = inbox[turn % 2]
            let waitStart = monotonicSeconds()
            try transport.wait(box.headerRequest!, for: "work from rank \(source)")
            let header = try StageHeader(decoding: UnsafeBufferPointer(box.header))
            if let dieAt, turn + 1 >= dieAt { _exit(9) }
            if header.op == .commit {
                // No hidden states follow: the posted receive waits for the next forward's.
                cache.keepTree(rows: header.accepted, committed: header.firstSlot)
                if let next { try transport.send(header.encoded, to: next, tag: MessageTag.header) }
                box.headerRequest = try transport.startReceive(into: box.header, from: source, tag: MessageTag.header)
                continue
            }
            if header.op != .forward {
                // Pass the word on down the pipeline, then stop.
                box.hiddenRequest?.cancel()
                if let next { try transport.send(header.encoded, to: next, tag: MessageTag.header) }
                for b in outbox { try complete(b, forward: lastForward) }
                if header.op == .failed { throw DistributedError.peerStopped("rank 0 stopped the run after an error (see its message)") }
                return
            }
            if let hidden = box.hiddenRequest { try transport.wait(hidden, for: "hidden states from rank \(source)") }
            recorder.record(.wait, forward: header.forwardIndex, microbatch: header.microbatch, since: waitStart, peer: source)
            lastForward = header.forwardIndex
            // Overlap: the next message can arrive while this one is computed.
            try post(inbox[(turn + 1) % 2])

            guard header.rows <= maxRows else {
                throw DistributedError.peerStopped("rank \(source) sent \(header.rows) rows, more than this rank's batch limit \(maxRows)")
            }
            let (batch, rows) = header.microbatchToRun
            let start = monotonicSeconds()
            let logits = try transformer.forwardStage(batch, rows: rows, cache: cache,
                                                      input: stage > 0 ? UnsafePointer(box.hidden.baseAddress!) : nil,
                                                      logitRows: sendsLogits ? header.logitRows : [])
            recorder.record(.compute, forward: header.forwardIndex, microbatch: header.microbatch, since: start)

            let out = outbox[turn % 2]
            try complete(out, forward: header.forwardIndex)
            out.postedAt = monotonicSeconds()
            out.microbatch = header.microbatch
            if let next {
                let words = header.encoded
                _ = UnsafeMutableBufferPointer(rebasing: out.header[0..<words.count]).update(fromContentsOf: words)
                let count = header.rows * width
                out.payload.baseAddress!.update(from: transformer.stageOutput, count: count)
                out.requests = [
                    try transport.startSend(UnsafeBufferPointer(rebasing: out.header[0..<words.count]), to: next, tag: MessageTag.header),
                    try transport.startSend(UnsafeBufferPointer(rebasing: out.payload[0..<count]), to: next, tag: MessageTag.hidden),
                ]
            } else if sendsLogits && logits.rows > 0 {
                let count = logits.rows * vocab
                out.reserve(count)
                out.payload.baseAddress!.update(from: logits.base, count: count)
                out.requests = [try transport.startSend(UnsafeBufferPointer(rebasing: out.payload[0..<count]), to: 0, tag: MessageTag.logits)]
            }
            turn += 1
        }
    }
}
