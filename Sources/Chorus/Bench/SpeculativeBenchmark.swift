import ChorusModels
import ChorusSpeculative
import Foundation

/// Plain against speculative decoding over a set of prompts: every prompt is decoded plainly and
/// then with each speculative setting right after it (interleaved, so load drifts hit all settings
/// alike), greedily unless sampling parameters are given. Greedy runs also check that each
/// setting's tokens equal plain decoding's.
public struct SpeculativeBenchmark {
    /// One speculative setting: a drafter and a tree shape.
    public struct Setting {
        public var name: String
        public var speculation: Speculation
        /// The target to verify with, when not the benchmark's model (e.g. the same weights on
        /// another thread pool, for drafting concurrently on the remaining cores).
        public var target: LanguageModel?
        public init(name: String, speculation: Speculation, target: LanguageModel? = nil) {
            self.name = name
            self.speculation = speculation
            self.target = target
        }
    }

    /// Totals of one setting (plain decoding has no statistics).
    public struct Row: Sendable {
        public var name: String
        public var generated = 0
        public var seconds = 0.0
        public var statistics = SpeculativeStatistics()
        /// Prompts whose tokens equalled plain decoding's (greedy runs).
        public var matchingPlain = 0
        public var tokensPerSecond: Double { seconds > 0 ? Double(generated) / seconds : 0 }
    }

    public let model: LanguageModel
    public let settings: [Setting]
    public let maxTokens: Int
    public let sampling: SamplingParameters

    public init(model: LanguageModel, settings: [Setting], maxTokens: Int, sampling: SamplingParameters = .greedy) {
        self.model = model
        self.settings = settings
        self.maxTokens = maxTokens
        self.sampling = sampling
    }

    /// Prompts of a JSON-lines file: one object with a "prompt" string per line (blank lines skipped).
    public static func loadPrompts(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var prompts: [String] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String else {
                throw EngineError.invalidArgument("\(path):\(n + 1): expected a JSON object with a \"prompt\" string")
            }
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw EngineError.invalidArgument("\(path): no prompts") }
        return prompts
    }

    /// Run every prompt (wrapped in the chat template when the model has one) through plain
    /// decoding and each setting; `progress` gets one line per run.
    public func run(prompts: [String], progress: (String) -> Void = { _ in }) throws -> [Row] {
        let generator = Generator(model: model)
        let cache = model.makeCache()
        var rows = [Row(name: "plain")] + settings.map { Row(name: $0.name) }
        for (p, prompt) in prompts.enumerated() {
            let text = model.chatTemplate == nil ? prompt : try model.chatPrompt(prompt)
            let ids = model.tokenize(text, addSpecial: true, parseSpecial: true)
            cache.trim(to: 0)  // plain generation reuses a cached prefix, which belongs to the last prompt
            let plain = try generator.generate(promptIDs: ids, cache: cache, maxTokens: maxTokens, sampling: sampling)
            rows[0].generated += plain.ids.count
            rows[0].seconds += plain.generationSeconds
            rows[0].matchingPlain += 1
            progress(String(format: "prompt %d/%d plain: %d tokens, %.1f tokens/s", p + 1, prompts.count, plain.ids.count,
                            plain.tokensPerSecond))
            for (s, setting) in settings.enumerated() {
                let target = setting.target ?? model
                cache.trim(to: 0)
                let result = try Generator(model: target).generate(promptIDs: ids, cache: setting.target?.makeCache() ?? cache,
                                                                   maxTokens: maxTokens, sampling: sampling,
                                                                   speculation: setting.speculation)
                let stats = result.statistics
                var row = rows[s + 1]
                row.generated += result.ids.count
                row.seconds += result.generationSeconds
                row.statistics.add(stats)
                if result.ids == plain.ids { row.matchingPlain += 1 }
                rows[s + 1] = row
                progress(String(format: "prompt %d/%d %@: %d tokens, %.1f tokens/s, %.2f tokens per verification%@",
                                p + 1, prompts.count, setting.name, result.ids.count, result.tokensPerSecond,
                                stats.tokensPerVerification, sampling.isGreedy && result.ids != plain.ids ? " DIFFERS FROM PLAIN" : ""))
            }
        }
        return rows
    }
}

extension SpeculativeStatistics {
    /// Sum of two runs' counts and times.
    public mutating func add(_ other: SpeculativeStatistics) {
        verifications += other.verifications
        drafted += other.drafted
        accepted += other.accepted
        let depth = max(roundsReachingDepth.count, other.roundsReachingDepth.count)
        func padded(_ a: [Int]) -> [Int] { a + Array(repeating: 0, count: depth - a.count) }
        roundsReachingDepth = zip(padded(roundsReachingDepth), padded(other.roundsReachingDepth)).map { $0 + $1 }
        acceptedAtDepth = zip(padded(acceptedAtDepth), padded(other.acceptedAtDepth)).map { $0 + $1 }
        draftSeconds += other.draftSeconds
        verifySeconds += other.verifySeconds
        generated += other.generated
        generationSeconds += other.generationSeconds
    }
}
