import Chorus
import Foundation

extension GenerateCommand {
    /// `chorus generate --skeleton-of-thought`: the prompt is a question (a user turn); the outline's
    /// points are expanded together on an in-process batch scheduler, then printed in order.
    func runSkeletonOfThought() throws {
        let model = try options.load(maxBatch: 64)
        let clock = ContinuousClock()
        let start = clock.now
        let answer = try SkeletonOfThought.answer(prompt, model: model, sampling: sampling.parameters, maxPointTokens: maxTokens)
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
