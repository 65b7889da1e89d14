import Chorus
import Foundation

extension GenerateCommand {
    /// `chorus generate --skeleton-of-thought`: the prompt is a question (a user turn); the outline's
    /// points are expanded together on an in-process batch scheduler, then printed in order.
    func runSkeletonOfThought() throws {
        let model = try options.load(maxBatch: 64)
        let scheduler = try BatchScheduler(model: model, slots: 8, queueCapacity: 8, stepRows: 64)
        scheduler.start()
        defer { scheduler.stopAll() }
        var sot = SkeletonOfThought(scheduler: scheduler)
        sot.maxPointTokens = max(1, min(sot.maxPointTokens, maxTokens))
        let clock = ContinuousClock()
        let start = clock.now
        let question = prompt
        let parameters = sampling.parameters
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await sot.answer(question, sampling: parameters)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        let answer = try box.result!.get()
        let seconds = (clock.now - start).seconds
        if json {
            try Output.json([
                "text": answer.text, "points": answer.points, "used_skeleton": answer.usedSkeleton, "seconds": seconds,
                "prompt_tokens": answer.promptTokens, "completion_tokens": answer.completionTokens,
            ] as [String: Any])
        } else {
            Output.stream(answer.text + "\n")
            Output.standardError(String(format: "skeleton-of-thought: %d points, %d tokens generated in %.2f s",
                                        answer.points.count, answer.completionTokens, seconds))
        }
    }
}

/// Carries the async answer back to the synchronous command.
private final class ResultBox: @unchecked Sendable {
    var result: Result<SkeletonOfThought.Answer, any Error>?
}
