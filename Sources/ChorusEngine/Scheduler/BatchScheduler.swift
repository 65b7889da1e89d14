import ChorusModels
import ChorusSpeculative
import Foundation
import Logging

/// What the scheduler reports as it runs (a server's `/metrics` counts it); every method has a
/// default that ignores it.
public protocol SchedulerObserver: AnyObject, Sendable {
    /// One step: its rows and sequences, tokens generated, prompt rows read, wall time, queue and slots in use.
    func step(rows: Int, sequences: Int, generated: Int, prompt: Int, seconds: Double, queued: Int, active: Int)
    /// A speculative step's drafted and accepted tokens, and its verifications.
    func speculated(drafted: Int, accepted: Int, verifications: Int)
    /// Prompt tokens whose keys and values came from another sequence's cache.
    func reusedPrefix(tokens: Int)
    /// A submission refused because the slots and the queue were full.
    func rejectedBusy()
    /// Nothing runs.
    func idle(queued: Int)
}

extension SchedulerObserver {
    public func step(rows: Int, sequences: Int, generated: Int, prompt: Int, seconds: Double, queued: Int, active: Int) {}
    public func speculated(drafted: Int, accepted: Int, verifications: Int) {}
    public func reusedPrefix(tokens: Int) {}
    public func rejectedBusy() {}
    public func idle(queued: Int) {}
}

/// Continuous batching: one loop on its own thread runs the decode loop's step over every active
/// sequence. Sequences that are decoding contribute a row (or a draft tree) each; new ones join at
/// the next step with their prompt cut into chunks that fill the rest of the step's row budget (so
/// running streams keep flowing while a long prompt is read); finished ones leave and free their
/// slot. Each slot owns a KV cache of the full context. Because the forward pass is batch invariant
/// and each sequence has its own seeded sampler, a sequence's tokens do not depend on its neighbours.
public final class BatchScheduler: @unchecked Sendable {
    public let model: LanguageModel
    public let slotCount: Int
    public let queueCapacity: Int
    /// Rows per forward pass: decoding rows first, prompt chunks take the rest.
    public let stepRows: Int
    /// How greedy sequences speculate, when set (sampled ones too if it says so).
    public var speculation: Speculation? { loop.speculation }
    let loop: DecodeLoop
    private let observer: (any SchedulerObserver)?
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
    var slots: PrefixSlots
    var active: [Running] = []

    private struct Submitted {
        let id: UInt64
        let job: SequenceJob
        let continuation: AsyncStream<SequenceEvent>.Continuation
    }

    /// A sequence holding a slot.
    final class Running {
        let id: UInt64
        let sequence: DecodingSequence
        /// A sequence still reading a prompt that shares `length` tokens with this one: this one waits
        /// and copies that prefix once it is in the other's cache instead of computing it again.
        var waitingFor: (source: Running, length: Int)?

        init(id: UInt64, sequence: DecodingSequence) {
            self.id = id
            self.sequence = sequence
        }
    }

    /// - Parameter speculation: how sequences draft (`ServingChoice` makes it from a plan or flags).
    public init(model: LanguageModel, slots: Int, queueCapacity: Int, stepRows: Int? = nil, speculation: Speculation? = nil,
                observer: (any SchedulerObserver)? = nil, logger: Logger = Logger(label: "chorus.scheduler")) throws {
        self.model = model
        slotCount = max(1, slots)
        self.queueCapacity = max(0, queueCapacity)
        self.stepRows = max(slotCount, min(stepRows ?? model.maxBatch, model.maxBatch))
        loop = try DecodeLoop(model: model, speculation: speculation, rowBudget: self.stepRows)
        self.observer = observer
        self.logger = logger
        self.slots = PrefixSlots(caches: (0..<slotCount).map { _ in model.makeCache() })
    }

    /// Starts the engine thread.
    public func start() {
        let thread = Thread { [self] in loopUntilStopped() }
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
            observer?.rejectedBusy()
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

    // MARK: - engine thread

    private func loopUntilStopped() {
        while true {
            condition.lock()
            while waiting.isEmpty && active.isEmpty && cancelled.isEmpty && !stopRequested {
                observer?.idle(queued: 0)
                condition.wait()
            }
            let stop = stopRequested
            let toCancel = cancelled
            cancelled.removeAll()
            var admitted: [Submitted] = []
            if stop {
                for s in waiting {
                    s.continuation.yield(.finished(reason: .cancelled, promptTokens: s.job.promptIDs.count, completionTokens: 0,
                                                   trailingText: ""))
                    s.continuation.finish()
                }
                waiting.removeAll()
            } else {
                waiting.removeAll { s in
                    guard toCancel.contains(s.id) else { return false }
                    s.continuation.finish()
                    return true
                }
                while !waiting.isEmpty && slots.hasFree && admitted.count + active.count < slotCount {
                    admitted.append(waiting.removeFirst())
                }
            }
            let queued = waiting.count
            condition.unlock()

            for s in admitted { admit(s) }
            for running in active where stop || toCancel.contains(running.id) { running.sequence.cancel() }
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

    /// Gives the job a slot (with the longest cached or running prefix of its prompt) and a
    /// sequence in the decode loop; its tokens go to its stream.
    private func admit(_ s: Submitted) {
        let (cache, reused) = slots.take(for: s.job.promptIDs, running: active.map { ($0.sequence.history, $0.sequence.cache) })
        observer?.reusedPrefix(tokens: reused)
        let continuation = s.continuation
        let sequence: DecodingSequence
        do {
            sequence = try loop.sequence(s.job, cache: cache, reused: reused) { id, text, logprob in
                continuation.yield(.token(id: id, text: text, logprob: logprob))
                return true
            }
        } catch {
            logger.error("refused a job: \(error)")
            slots.release(cache, holding: [])
            continuation.yield(.finished(reason: .cancelled, promptTokens: s.job.promptIDs.count, completionTokens: 0, trailingText: ""))
            continuation.finish()
            return
        }
        let running = Running(id: s.id, sequence: sequence)
        sequence.onFinish = { [unowned self] sequence, trailing in
            // Free the slot before telling the client, so a client that sends its next request at once finds it free.
            active.removeAll { $0 === running }
            slots.release(sequence.cache, holding: Array(sequence.history.prefix(sequence.cache.count)))
            publishActiveCount()
            continuation.yield(.finished(reason: FinishReason(sequence.stopReason ?? .stoppedByCaller),
                                         promptTokens: sequence.job.promptIDs.count, completionTokens: sequence.generated.count,
                                         trailingText: trailing))
            continuation.finish()
        }
        // A sequence admitted earlier that is still reading a prompt with a longer common beginning
        // (n choices of one prompt, a shared system prompt): wait for it rather than compute it twice.
        running.waitingFor = PrefixSlots.sharedPromptBeingRead(s.job.promptIDs, after: reused,
                                                               among: active.filter { $0.sequence.isReadingPrompt && $0.waitingFor == nil }
                                                                   .map { ($0, $0.sequence.job.promptIDs) })
        active.append(running)
    }

    private func publishActiveCount() {
        condition.lock()
        activeCount = active.count
        condition.unlock()
    }

    /// One step of the decode loop over every active sequence not waiting for a shared prefix.
    private func step(queued: Int) {
        for running in active {
            guard let (source, length) = running.waitingFor else { continue }
            let sourceActive = active.contains { $0 === source }
            if sourceActive && source.sequence.cache.count < length { continue }  // still being computed
            // Finished meanwhile: its cache still holds the prefix unless another sequence took it.
            if sourceActive || slots.holds(source.sequence.cache, tokens: length) {
                running.sequence.cache.copyPrefix(from: source.sequence.cache, slots: length)
                running.sequence.read(length - running.sequence.prefilled)
                observer?.reusedPrefix(tokens: length)
            }
            running.waitingFor = nil
        }
        let ready = active.filter { $0.waitingFor == nil }.map(\.sequence)
        let report: DecodeLoop.StepReport
        do {
            report = try loop.step(ready)
        } catch {
            logger.error("forward pass failed: \(error)")
            for running in active { running.sequence.cancel() }
            publishActiveCount()
            return
        }
        publishActiveCount()
        observer?.step(rows: report.rows, sequences: report.sequences, generated: report.generated, prompt: report.promptRows,
                       seconds: report.seconds, queued: queued, active: active.count)
        if report.verifications > 0 {
            observer?.speculated(drafted: report.drafted, accepted: report.accepted, verifications: report.verifications)
        }
    }
}
