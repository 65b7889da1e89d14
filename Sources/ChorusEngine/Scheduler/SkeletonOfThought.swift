import ChorusModels
import ChorusTokenizers
import Foundation

/// Skeleton-of-thought (Ning et al., 2023): the model first writes a short outline of its answer,
/// then expands every point at once as a batch of sequences, and the answer is assembled in order.
/// The expansion prompts differ only at their end, so their common beginning (question and outline)
/// is evaluated once and copied into every point's cache by the scheduler's prefix sharing.
public struct SkeletonOfThought: Sendable {
    public let scheduler: BatchScheduler
    public var maxSkeletonTokens = 160
    public var maxPointTokens = 96

    public init(scheduler: BatchScheduler) { self.scheduler = scheduler }

    public struct Answer: Sendable {
        public var text: String
        public var points: [String]
        public var promptTokens: Int
        public var completionTokens: Int
        /// False when the outline had fewer than two points and the answer was generated plainly.
        public var usedSkeleton: Bool
        public var finishReason: FinishReason
    }

    public enum Failure: Error, CustomStringConvertible {
        case cancelled
        public var description: String { "skeleton-of-thought generation was cancelled" }
    }

    /// The answer to `question` on a scheduler of its own (`slots` points expanded at once),
    /// waiting for it on the calling thread (for synchronous callers such as the command line).
    public static func answer(_ question: String, model: LanguageModel, sampling: SamplingParameters, maxPointTokens: Int? = nil,
                              slots: Int = 8) throws -> Answer {
        let scheduler = try BatchScheduler(model: model, slots: slots, queueCapacity: slots, stepRows: model.maxBatch)
        scheduler.start()
        defer { scheduler.stopAll() }
        var sot = SkeletonOfThought(scheduler: scheduler)
        if let maxPointTokens { sot.maxPointTokens = max(1, min(sot.maxPointTokens, maxPointTokens)) }
        let box = AnswerBox()
        let done = DispatchSemaphore(value: 0)
        Task { [sot] in
            do { box.result = .success(try await sot.answer(question, sampling: sampling)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    /// The answer to `question` (a user turn of a chat model).
    public func answer(_ question: String, sampling: SamplingParameters) async throws -> Answer {
        let model = scheduler.model
        let skeletonPrompt = try model.chatPrompt(Self.skeletonInstruction(question)) + "1."
        let skeletonIDs = model.tokenize(skeletonPrompt, addSpecial: true, parseSpecial: true)
        let skeleton = try await run([job(skeletonIDs, maxTokens: maxSkeletonTokens, sampling: sampling, stops: ["\n\n"])])[0]
        let points = Self.parsePoints("1." + skeleton.text)
        var promptTokens = skeletonIDs.count
        var completionTokens = skeleton.completionTokens
        guard points.count >= 2 else {
            let ids = model.tokenize(try model.chatPrompt(question), addSpecial: true, parseSpecial: true)
            let plain = try await run([job(ids, maxTokens: maxPointTokens * 4, sampling: sampling)])[0]
            return Answer(text: plain.text, points: [], promptTokens: promptTokens + ids.count,
                          completionTokens: completionTokens + plain.completionTokens, usedSkeleton: false, finishReason: plain.reason)
        }
        let outline = points.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
        let prompts = try points.indices.map { i in
            try model.chatPrompt(Self.pointInstruction(question, outline: outline, point: i + 1)) + Self.pointLead(i + 1, points[i])
        }
        let ids = prompts.map { model.tokenize($0, addSpecial: true, parseSpecial: true) }
        // Evaluate the shared beginning once; the point jobs then copy it (prefix sharing).
        var shared = ids[0].count
        for other in ids.dropFirst() {
            var length = 0
            while length < min(shared, other.count) && other[length] == ids[0][length] { length += 1 }
            shared = length
        }
        if shared >= 2 {
            _ = try await run([job(Array(ids[0][..<shared]), maxTokens: 1, sampling: .greedy)])
            promptTokens += shared
        }
        var expansions: [Generated] = []
        for wave in stride(from: 0, to: ids.count, by: scheduler.slotCount) {
            let jobs = ids[wave..<min(ids.count, wave + scheduler.slotCount)].map {
                job($0, maxTokens: maxPointTokens, sampling: sampling, stops: ["\n\n", "\n\(points.count + 1). "])
            }
            expansions += try await run(jobs)
        }
        promptTokens += ids.reduce(0) { $0 + $1.count } - (shared >= 2 ? shared * ids.count : 0)
        completionTokens += expansions.reduce(0) { $0 + $1.completionTokens }
        let text = zip(points, expansions).enumerated().map { i, pair in
            Self.pointLead(i + 1, pair.0) + pair.1.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }.joined(separator: "\n")
        let reason: FinishReason = expansions.contains { $0.reason == .length } ? .length : .stop
        return Answer(text: text, points: points, promptTokens: promptTokens, completionTokens: completionTokens,
                      usedSkeleton: true, finishReason: reason)
    }

    // MARK: - pieces

    struct Generated {
        var text = ""
        var completionTokens = 0
        var reason = FinishReason.stop
    }

    private func job(_ ids: [Int], maxTokens: Int, sampling: SamplingParameters, stops: [String] = []) -> SequenceJob {
        let room = scheduler.model.contextLength - ids.count
        return SequenceJob(promptIDs: ids, maxTokens: max(1, min(maxTokens, room)), sampling: sampling, stops: stops)
    }

    /// Runs jobs together (waiting for queue room when the server is busy) and collects their text.
    private func run(_ jobs: [SequenceJob]) async throws -> [Generated] {
        let streams: [AsyncStream<SequenceEvent>]
        while true {
            do {
                streams = try scheduler.submit(jobs)
                break
            } catch SchedulerError.queueFull {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        var results: [Generated] = []
        for stream in streams {
            var generated = Generated()
            for await event in stream {
                switch event {
                case .token(_, let text, _): generated.text += text
                case .finished(let reason, _, let completion, let trailing):
                    generated.text += trailing
                    generated.completionTokens = completion
                    generated.reason = reason
                }
            }
            if generated.reason == .cancelled { throw Failure.cancelled }
            results.append(generated)
        }
        return results
    }

    /// How a point's expansion begins: its outline text as a heading, so a complete-looking outline
    /// sentence is not taken as the whole answer.
    static func pointLead(_ number: Int, _ point: String) -> String {
        let heading = point.hasSuffix(".") ? String(point.dropLast()) : point
        return "\(number). \(heading): "
    }

    static func skeletonInstruction(_ question: String) -> String {
        """
        You're an organizer responsible for only giving the skeleton (not the full content) for answering the question. \
        Provide the skeleton in a list of points (numbered 1., 2., 3., etc.) to answer the question. Instead of writing a full \
        sentence, each skeleton point should be very short with only 3~5 words. Generally, the skeleton should have 3~8 points.

        Question:
        \(question)
        Skeleton:
        """
    }

    static func pointInstruction(_ question: String, outline: String, point: Int) -> String {
        """
        You're responsible for continuing the writing of one and only one point in the overall answer to the following question.

        \(question)

        The skeleton of the answer is

        \(outline)

        Continue and only continue the writing of point \(point). Write it very shortly in 1~2 sentences and do not continue with other points!
        """
    }

    /// The points of a numbered outline ("1. ...", "2) ..."), at most 8, in order.
    static func parsePoints(_ text: String) -> [String] {
        var points: [String] = []
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let dot = trimmed.firstIndex(where: { $0 == "." || $0 == ")" }),
                  let number = Int(trimmed[..<dot]), number == points.count + 1 else { continue }
            let point = trimmed[trimmed.index(after: dot)...].trimmingCharacters(in: .whitespaces)
            if point.isEmpty { continue }
            points.append(point)
            if points.count == 8 { break }
        }
        return points
    }
}

/// Carries an asynchronous answer back to a synchronous caller.
private final class AnswerBox: @unchecked Sendable {
    var result: Result<SkeletonOfThought.Answer, any Error>?
}
