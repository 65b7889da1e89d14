import Chorus
import ChorusModels
import ChorusSpeculative
import ChorusTokenizers
import Foundation
import Logging

/// Continuous batching: one loop on its own thread runs a single multi-sequence forward pass per step
/// over every active sequence. Sequences that are decoding contribute one row each; new ones join
/// at the next step with their prompt cut into chunks that fill the rest of the step's row budget
/// (so running streams keep flowing while a long prompt is read); finished ones leave and free their
/// slot. Each slot owns a KV cache of the full context. Because the forward pass is batch invariant
/// and each sequence has its own seeded sampler, a sequence's tokens do not depend on its neighbours.
public final class BatchScheduler: @unchecked Sendable {
    public let model: LanguageModel
    public let slotCount: Int
    public let queueCapacity: Int
    /// Rows per forward pass: decoding rows first, prompt chunks take the rest.
    public let stepRows: Int
    /// Greedy speculative decoding by prompt lookup or a draft model, when set.
    public let speculation: Speculation?

    /// Draft `draftLength` tokens per greedy sequence and verify them in the same pass, while at most
    /// `maxSequences` sequences decode (verification rows cost nearly as much as decoding rows on a
    /// CPU, so it pays only when the batch is small). The drafts come from prompt lookup, or from
    /// `draftModel` (sharing the target's vocabulary; each speculating sequence gets its own draft
    /// cache, dropped when the sequence stops speculating or ends).
    public struct Speculation: @unchecked Sendable {
        public var draftLength: Int
        public var maxSequences: Int
        public var draftModel: LanguageModel?
        /// The draft model proposes from its first `draftVocabulary` ids and the end-of-generation ids.
        public var draftVocabulary: Int
        public init(draftLength: Int = 4, maxSequences: Int = 2, draftModel: LanguageModel? = nil,
                    draftVocabulary: Int = ModelDrafter.defaultVocabulary) {
            self.draftLength = max(1, draftLength)
            self.maxSequences = max(1, maxSequences)
            self.draftModel = draftModel
            self.draftVocabulary = draftVocabulary
        }
    }
    let metrics: ServerMetrics
    private let logger: Logger

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var waiting: [Submitted] = []
    private var cancelled: Set<UInt64> = []
    private var nextID: UInt64 = 1
    private var accepting = true
    private var stopRequested = false
    private var activeCount = 0
    private var finishedLoop = false

    // Engine thread only:
    private var freeCaches: [KVCache]
    /// Tokens whose keys and values each free cache still holds (slots 0..<count), for prefix reuse.
    private var cachedTokens: [ObjectIdentifier: [Int]] = [:]
    private var active: [Running] = []

    private struct Submitted {
        let id: UInt64
        let job: SequenceJob
        let continuation: AsyncStream<SequenceEvent>.Continuation
    }

    private final class Running {
        let id: UInt64
        let job: SequenceJob
        let continuation: AsyncStream<SequenceEvent>.Continuation
        let cache: KVCache
        var prefilled = 0
        var pendingToken: Int?
        var sampler: Sampler
        var history: [Int]
        var generated = 0
        var decoder: StreamingDecoder
        var stopMatcher: StopMatcher
        /// A sequence still reading a prompt that shares `length` tokens with this one: this one waits
        /// and copies that prefix once it is in the other's cache instead of computing it again.
        var waitingFor: (source: Running, length: Int)?
        /// Its draft model's state while it speculates with one.
        var drafter: ModelDrafter?

        init(_ s: Submitted, cache: KVCache, tokenizer: any Tokenizer) {
            id = s.id
            job = s.job
            continuation = s.continuation
            self.cache = cache
            sampler = Sampler(s.job.sampling)
            history = s.job.promptIDs
            decoder = StreamingDecoder(tokenizer: tokenizer)
            stopMatcher = StopMatcher(stops: s.job.stops)
        }
    }

    public init(model: LanguageModel, slots: Int, queueCapacity: Int, stepRows: Int? = nil, speculation: Speculation? = nil,
                metrics: ServerMetrics = ServerMetrics(), logger: Logger = Logger(label: "chorus.scheduler")) {
        self.speculation = speculation
        if let draft = speculation?.draftModel {
            precondition(draft.config.vocabularySize == model.config.vocabularySize, "the draft model's vocabulary differs")
        }
        self.model = model
        slotCount = max(1, slots)
        self.queueCapacity = max(0, queueCapacity)
        self.stepRows = max(slotCount, min(stepRows ?? model.transformer.maxBatch, model.transformer.maxBatch))
        self.metrics = metrics
        self.logger = logger
        freeCaches = (0..<slotCount).map { _ in model.makeCache() }
    }

    /// Starts the engine thread.
    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "chorus-scheduler"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues jobs (all or none); each returned stream reports its job's tokens. Dropping or cancelling
    /// the consumer of a stream cancels its job and frees its slot at the next step.
    public func submit(_ jobs: [SequenceJob]) throws -> [AsyncStream<SequenceEvent>] {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { throw SchedulerError.shuttingDown }
        let free = slotCount - activeCount
        guard waiting.count + jobs.count <= queueCapacity + max(0, free) else {
            metrics.rejectedBusy()
            throw SchedulerError.queueFull(retryAfterSeconds: 1)
        }
        var streams: [AsyncStream<SequenceEvent>] = []
        for job in jobs {
            let id = nextID
            nextID += 1
            let (stream, continuation) = AsyncStream<SequenceEvent>.makeStream(bufferingPolicy: .unbounded)
            continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination { self?.cancel(id) }
            }
            waiting.append(Submitted(id: id, job: job, continuation: continuation))
            streams.append(stream)
        }
        condition.signal()
        return streams
    }

    func cancel(_ id: UInt64) {
        condition.lock()
        cancelled.insert(id)
        condition.signal()
        condition.unlock()
    }

    /// Sequences waiting and running.
    public var load: (waiting: Int, active: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (waiting.count, activeCount)
    }

    /// Refuses new jobs from now on.
    public func stopAccepting() {
        condition.lock()
        accepting = false
        condition.unlock()
    }

    /// Cancels every waiting and running job and ends the loop once they have reported.
    public func stopAll() {
        condition.lock()
        accepting = false
        stopRequested = true
        condition.signal()
        condition.unlock()
    }

    /// Waits (polling) until nothing is queued or running, or `timeout` passes; true if idle.
    public func waitUntilIdle(timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let (w, a) = load
            if w == 0 && a == 0 { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Waits until the loop has ended after `stopAll`.
    public func waitForLoopEnd(timeout: Duration) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if loopEnded { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private var loopEnded: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finishedLoop
    }

    // MARK: - engine loop

    private func loop() {
        while true {
            condition.lock()
            while waiting.isEmpty && active.isEmpty && cancelled.isEmpty && !stopRequested {
                metrics.idle(queued: 0)
                condition.wait()
            }
            let stop = stopRequested
            let toCancel = cancelled
            cancelled.removeAll()
            var admitted: [Submitted] = []
            if stop {
                for s in waiting { s.continuation.yield(.finished(reason: .cancelled, promptTokens: s.job.promptIDs.count,
                                                                  completionTokens: 0, trailingText: ""))
                    s.continuation.finish()
                }
                waiting.removeAll()
            } else {
                waiting.removeAll { s in
                    if toCancel.contains(s.id) {
                        s.continuation.finish()
                        return true
                    }
                    return false
                }
                while !waiting.isEmpty && freeCaches.count > 0 && admitted.count + active.count < slotCount {
                    admitted.append(waiting.removeFirst())
                }
            }
            let queued = waiting.count
            condition.unlock()

            for s in admitted { admit(s) }
            for sequence in active where stop || toCancel.contains(sequence.id) {
                finish(sequence, reason: .cancelled)
            }
            publishActiveCount()
            if stop && active.isEmpty {
                condition.lock()
                finishedLoop = true
                condition.unlock()
                return
            }
            if active.isEmpty { continue }
            step(queued: queued)
        }
    }

    /// Shortest shared beginning worth waiting for another sequence to compute.
    static let minimumSharedWait = 8

    /// Prefix sharing: gives the job the free cache holding the longest prefix of its prompt, or, when
    /// a running sequence's cache holds a longer one, copies that prefix's keys and values into a free
    /// cache; the job's prefill starts after the shared prefix. Cached entries have the same bits as
    /// recomputing them (batch invariance), so sharing changes nothing but time.
    private func admit(_ s: Submitted) {
        let prompt = s.job.promptIDs
        func common(_ tokens: [Int], _ committed: Int) -> Int {
            var length = 0
            let limit = min(tokens.count, prompt.count - 1, committed)
            while length < limit && tokens[length] == prompt[length] { length += 1 }
            return length
        }
        var bestFree = freeCaches.count - 1
        var bestFreeLength = 0
        for (i, cache) in freeCaches.enumerated() {
            let length = common(cachedTokens[ObjectIdentifier(cache)] ?? [], cache.count)
            if length > bestFreeLength {
                bestFree = i
                bestFreeLength = length
            }
        }
        var source: KVCache?
        var sourceLength = bestFreeLength
        for other in active {
            let length = common(other.history, other.cache.count)
            if length > sourceLength {
                source = other.cache
                sourceLength = length
            }
        }
        let cache = freeCaches.remove(at: bestFree)
        cachedTokens[ObjectIdentifier(cache)] = nil
        if let source {
            cache.copyPrefix(from: source, slots: sourceLength)
        } else {
            cache.trim(to: bestFreeLength)
        }
        let running = Running(s, cache: cache, tokenizer: model.tokenizer)
        running.prefilled = cache.count
        metrics.reusedPrefix(tokens: cache.count)
        // A sequence admitted earlier that is still reading a prompt with a longer common beginning
        // (n choices of one prompt, a shared system prompt): wait for it rather than compute it twice.
        var pending: (Running, Int)?
        for other in active where other.pendingToken == nil && other.waitingFor == nil {
            let length = common(other.job.promptIDs, other.job.promptIDs.count)
            if length >= cache.count + Self.minimumSharedWait && length > (pending?.1 ?? 0) { pending = (other, length) }
        }
        if let pending { running.waitingFor = (pending.0, pending.1) }
        active.append(running)
    }

    private func publishActiveCount() {
        condition.lock()
        activeCount = active.count
        condition.unlock()
    }

    /// A sequence's share of a step's logits: its first logit row and the tokens it drafted.
    private struct Member {
        let sequence: Running
        let row: Int
        let drafts: [Int]
    }

    /// One batched forward pass over every active sequence, then sampling and reporting.
    private func step(queued: Int) {
        let clock = ContinuousClock()
        let start = clock.now
        var segments: [Segment] = []
        var members: [Member] = []  // in logit-row order
        var logitRows = 0
        var budget = stepRows
        var promptRows = 0
        let decoding = active.filter { $0.pendingToken != nil }
        let speculate = speculation.map { decoding.count <= $0.maxSequences } ?? false
        for sequence in decoding {
            let token = sequence.pendingToken!
            var drafts: [Int] = []
            if speculate, let speculation, sequence.job.sampling.isGreedy, sequence.job.sampling.repeatPenalty == 1 {
                let room = min(speculation.draftLength, sequence.cache.capacity - sequence.cache.count - 1,
                               budget - (decoding.count - members.count))
                if room > 0 {
                    drafts = speculation.draftModel == nil
                        ? Self.promptLookup(sequence.history, length: room)
                        : modelDrafts(sequence, length: room, speculation)
                }
            } else {
                sequence.drafter = nil  // not speculating: free its draft cache
            }
            segments.append(Segment(.sequence([token] + drafts, start: sequence.cache.count, logits: .all), cache: sequence.cache))
            members.append(Member(sequence: sequence, row: logitRows, drafts: drafts))
            logitRows += 1 + drafts.count
            budget -= 1 + drafts.count
        }
        for sequence in active where sequence.pendingToken == nil && budget > 0 {
            if let (source, length) = sequence.waitingFor {
                let sourceActive = active.contains { $0 === source }
                if sourceActive && source.cache.count < length { continue }  // still being computed
                // Finished meanwhile: its cache still holds the prefix unless another sequence took it.
                let stillCached = (cachedTokens[ObjectIdentifier(source.cache)]?.count ?? 0) >= length
                if sourceActive || stillCached {
                    sequence.cache.copyPrefix(from: source.cache, slots: length)
                    sequence.prefilled = length
                    metrics.reusedPrefix(tokens: length)
                }
                sequence.waitingFor = nil
            }
            let prompt = sequence.job.promptIDs
            let end = min(prompt.count, sequence.prefilled + budget)
            let last = end == prompt.count
            segments.append(Segment(.sequence(Array(prompt[sequence.prefilled..<end]), start: sequence.prefilled,
                                              logits: last ? .last : .none), cache: sequence.cache))
            if last {
                members.append(Member(sequence: sequence, row: logitRows, drafts: []))
                logitRows += 1
            }
            promptRows += end - sequence.prefilled
            budget -= end - sequence.prefilled
            sequence.prefilled = end
        }
        let logits: Logits
        do {
            logits = try model.transformer.forward(segments: segments)
        } catch {
            logger.error("forward pass failed: \(error)")
            for sequence in active { finish(sequence, reason: .cancelled) }
            publishActiveCount()
            return
        }
        var generated = 0
        var drafted = 0
        var accepted = 0
        for member in members {
            let sequence = member.sequence
            let before = sequence.generated
            if member.drafts.isEmpty {
                let values = logits.row(member.row)
                report(sequence.sampler.sample(values, history: sequence.history), logits: values, of: sequence)
            } else {
                // Greedy verification: row i's arg-max is the token after draft i; drafts are accepted
                // while they equal it. Accepted rows' keys and values are already in place (a chain).
                var tokens: [Int] = []
                for i in 0...member.drafts.count {
                    tokens.append(Sampler.argmax(logits.row(member.row + i)))
                    if i == member.drafts.count || tokens[i] != member.drafts[i] { break }
                }
                drafted += member.drafts.count
                accepted += tokens.count - 1
                sequence.cache.trim(to: sequence.cache.count - (member.drafts.count + 1) + tokens.count)
                for (i, token) in tokens.enumerated() {
                    report(token, logits: logits.row(member.row + i), of: sequence)
                    if !active.contains(where: { $0 === sequence }) { break }
                }
            }
            generated += sequence.generated - before
        }
        let rows = segments.reduce(0) { $0 + $1.batch.count }
        publishActiveCount()
        metrics.step(rows: rows, sequences: segments.count, generated: generated, prompt: promptRows,
                     seconds: (clock.now - start).seconds, queued: queued, active: active.count)
        if drafted > 0 { metrics.speculated(drafted: drafted, accepted: accepted) }
    }

    /// A chain of up to `length` tokens from the sequence's draft model (its history ends with the
    /// pending token, the chain's root). A failing draft pass only costs the speculation.
    private func modelDrafts(_ sequence: Running, length: Int, _ speculation: Speculation) -> [Int] {
        guard let draft = speculation.draftModel else { return [] }
        do {
            if sequence.drafter == nil {
                sequence.drafter = try ModelDrafter(draft: draft, target: model, vocabulary: speculation.draftVocabulary)
            }
            let tree = try sequence.drafter!.draft(context: sequence.history, shape: try TreeShape.chain(length), limit: length + 1)
            return Array(tree.tokens.dropFirst())
        } catch {
            logger.warning("draft model failed, decoding without it this step: \(error)")
            sequence.drafter = nil
            return []
        }
    }

    /// Prompt lookup: the tokens that followed the latest earlier occurrence of the last 3 (else 2)
    /// tokens of `history`, at most `length` of them.
    static func promptLookup(_ history: [Int], length: Int) -> [Int] {
        let count = history.count
        for n in stride(from: min(3, count - 1), through: 2, by: -1) {
            let suffix = count - n
            var start = suffix - 1
            while start >= 0 {
                if history[start..<start + n].elementsEqual(history[suffix..<count]) {
                    let from = start + n
                    return Array(history[from..<min(count, from + length)])
                }
                start -= 1
            }
        }
        return []
    }

    /// Handles a sampled token: end of generation, stop strings, budget and context, else report it
    /// and queue it as the sequence's next row.
    private func report(_ token: Int, logits: UnsafeBufferPointer<Float>, of sequence: Running) {
        if !sequence.job.ignoreEndOfGeneration && model.tokenizer.endOfGenerationIDs.contains(token) {
            finish(sequence, reason: .stop)
            return
        }
        sequence.generated += 1
        sequence.history.append(token)
        let logprob = sequence.job.topLogprobs.map { Self.logprob(of: token, in: logits, top: $0) }
        let (text, stopped) = sequence.stopMatcher.feed(sequence.decoder.append(token))
        sequence.continuation.yield(.token(id: token, text: text, logprob: logprob))
        if stopped {
            finish(sequence, reason: .stop, flush: false)
        } else if sequence.generated >= sequence.job.maxTokens || sequence.cache.count >= sequence.cache.capacity {
            finish(sequence, reason: .length)
        } else {
            sequence.pendingToken = token
        }
    }

    private func finish(_ sequence: Running, reason: FinishReason, flush: Bool = true) {
        var trailing = ""
        if flush && reason != .cancelled {
            let (text, _) = sequence.stopMatcher.feed(sequence.decoder.flush())
            trailing = text + sequence.stopMatcher.flush()
        }
        // Free the slot before telling the client, so a client that sends its next request at once finds it free.
        active.removeAll { $0 === sequence }
        sequence.drafter = nil
        cachedTokens[ObjectIdentifier(sequence.cache)] = Array(sequence.history.prefix(sequence.cache.count))
        freeCaches.append(sequence.cache)
        publishActiveCount()
        sequence.continuation.yield(.finished(reason: reason, promptTokens: sequence.job.promptIDs.count,
                                              completionTokens: sequence.generated, trailingText: trailing))
        sequence.continuation.finish()
    }

    /// log-softmax of the raw logits at `token`, with the `top` most likely tokens.
    static func logprob(of token: Int, in logits: UnsafeBufferPointer<Float>, top: Int) -> TokenLogprob {
        var maxLogit = -Float.infinity
        for v in logits where v > maxLogit { maxLogit = v }
        var sum: Double = 0
        for v in logits { sum += exp(Double(v - maxLogit)) }
        let logNormaliser = Double(maxLogit) + log(sum)
        func lp(_ id: Int) -> Float { Float(Double(logits[id]) - logNormaliser) }
        var best: [(id: Int, logprob: Float)] = []
        if top > 0 {
            let candidates = logits.enumerated().map { Sampler.Candidate(id: $0.offset, logit: $0.element) }
            var sorted = candidates
            Sampler.filter(&sorted, parameters: {
                var p = SamplingParameters()
                p.topK = top
                p.topP = 1
                p.minP = 0
                return p
            }())
            best = sorted.prefix(top).map { ($0.id, lp($0.id)) }
        }
        return TokenLogprob(id: token, logprob: lp(token), top: best)
    }
}
