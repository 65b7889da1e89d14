import ChorusModels
import ChorusPlanner
import ChorusSpeculative
import Foundation

/// Prompts from a JSONL file, one `{"prompt": "..."}` object per line (other keys ignored, blank lines skipped).
public enum PromptFile {
    public static func load(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.invalidArgument("cannot read prompt file '\(path)'")
        }
        var prompts: [String] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String, !prompt.isEmpty else {
                throw EngineError.invalidArgument("\(path):\(i + 1): expected a JSON object with a non-empty \"prompt\" string")
            }
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw EngineError.invalidArgument("'\(path)' holds no prompts") }
        return prompts
    }
}

/// The target's greedy continuation of one calibration prompt: what every drafter is scored against.
public struct Transcript: Sendable, Codable, Equatable {
    public var promptIDs: [Int]
    public var ids: [Int]
}

/// Measures per drafter how often its k-th ranked candidate is the target's greedy token at each
/// depth of a token tree, on calibration prompts (wrapped in the target's chat template).
public struct AcceptanceCalibrator {
    public let target: LanguageModel
    public var maxRank = 8
    public var maxDepth = 8

    public init(target: LanguageModel) { self.target = target }

    /// The target's greedy output, `tokens` per prompt.
    public func transcripts(prompts: [String], tokens: Int, progress: (String) -> Void = { _ in }) throws -> [Transcript] {
        let generator = Generator(model: target)
        let cache = target.makeCache()
        var result: [Transcript] = []
        for (i, prompt) in prompts.enumerated() {
            let text = target.chatTemplate != nil ? try target.chatPrompt(prompt) : prompt
            let ids = target.tokenize(text, addSpecial: true, parseSpecial: true)
            cache.trim(to: 0)
            let out = try generator.generate(promptIDs: ids, cache: cache, maxTokens: tokens, sampling: .greedy)
            result.append(Transcript(promptIDs: ids, ids: out.ids))
            progress("calibration: target output \(i + 1)/\(prompts.count) (\(out.ids.count) tokens)")
        }
        return result
    }

    /// A draft model: its candidates at every position, teacher-forced on the transcript. Along an
    /// accepted path the drafter's context is exactly the target's output, so the ranks of the
    /// target's tokens there are the ranks a tree would have met at every depth.
    public func calibrate(draft: LanguageModel, id: String, transcripts: [Transcript]) throws -> AcceptanceProfile {
        var paths: [[Int]] = []
        var segments: [Int] = []
        let cache = draft.makeCache()
        let chunk = max(1, draft.transformer.maxBatch)
        for t in transcripts where !t.ids.isEmpty {
            guard t.promptIDs.count + t.ids.count <= cache.capacity else {
                throw EngineError.promptTooLong(tokens: t.promptIDs.count + t.ids.count, context: cache.capacity)
            }
            cache.trim(to: 0)
            var ranks: [Int] = []
            // Logits after the prompt give the rank of ids[0]; each generated token's logits the next one's.
            var logits = try draft.transformer.forward(.sequence(t.promptIDs, start: 0), cache: cache)
            ranks.append(Self.rank(of: t.ids[0], in: logits.row(0), limit: maxRank))
            var start = 0
            while start < t.ids.count - 1 {
                let end = min(t.ids.count - 1, start + chunk)
                logits = try draft.transformer.forward(.sequence(Array(t.ids[start..<end]), start: t.promptIDs.count + start, logits: .all),
                                                       cache: cache)
                for row in 0..<(end - start) { ranks.append(Self.rank(of: t.ids[start + row + 1], in: logits.row(row), limit: maxRank)) }
                start = end
            }
            for s in ranks.indices { paths.append(AcceptanceProfile.path(ranks: ranks[s...], maxRank: maxRank, maxDepth: maxDepth)) }
            segments.append(ranks.count)
        }
        return AcceptanceProfile(drafter: .model(id), maxRank: maxRank, maxDepth: maxDepth, paths: paths, segments: segments)
    }

    /// Any drafter (prompt lookup): draft a wide probe tree at every start position and follow the
    /// target's tokens down it. The probe trees are kept: such drafters may fill less than a template.
    public func calibrate(drafter: any Drafter, choice: DrafterChoice, transcripts: [Transcript],
                          probe: TreeShape? = nil) throws -> AcceptanceProfile {
        let probeShape = try probe ?? TreeShape(branching: [4, 3, 2, 1, 1, 1, 1, 1])
        var paths: [[Int]] = []
        var trees: [[Int]] = []
        var segments: [Int] = []
        var seconds = 0.0
        for t in transcripts {
            segments.append(t.ids.count)
            let sequence = t.promptIDs + t.ids
            for s in 0..<t.ids.count {
                let context = Array(sequence[0..<(t.promptIDs.count + s)])
                let start = ContinuousClock.now
                let tree = try drafter.draft(context: context, shape: probeShape, limit: 64)
                seconds += (ContinuousClock.now - start).seconds
                var ranks: [Int] = []
                var node = 0
                for j in s..<t.ids.count {
                    let children = tree.children(of: node)
                    guard let k = children.firstIndex(where: { tree.tokens[$0] == t.ids[j] }) else {
                        ranks.append(0)
                        break
                    }
                    ranks.append(k + 1)
                    node = children[k]
                }
                paths.append(AcceptanceProfile.path(ranks: ranks, maxRank: probeShape.branching.max() ?? 1,
                                                    maxDepth: probeShape.depth))
                trees.append(tree.parents)
            }
        }
        return AcceptanceProfile(drafter: choice, maxRank: probeShape.branching.max() ?? 1, maxDepth: probeShape.depth,
                                 paths: paths, probeTrees: trees, secondsPerDraft: seconds / Double(max(1, trees.count)),
                                 segments: segments)
    }

    /// 1-based rank of `token` among `logits` (ties to the lower id, as top-k drafting orders them),
    /// or 0 when it is not among the first `limit`.
    static func rank(of token: Int, in logits: UnsafeBufferPointer<Float>, limit: Int) -> Int {
        let value = logits[token]
        var better = 0
        for (i, v) in logits.enumerated() where v > value || (v == value && i < token) {
            better += 1
            if better >= limit { return 0 }
        }
        return better + 1
    }
}
