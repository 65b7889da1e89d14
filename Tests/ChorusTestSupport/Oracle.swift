import Foundation

/// One model's reference outputs from llama.cpp (`Tests/Fixtures/oracle/<model>.json`).
public struct Oracle: Decodable, Sendable {
    public struct TokenizeCase: Decodable, Sendable {
        public let text: String
        public let add_special: Bool
        public let parse_special: Bool
        public let ids: [Int]
    }
    public struct Step: Decodable, Sendable {
        public let id: Int
        public let logprob: Double
        /// [[id, logprob], ...] best first
        public let top: [[Double]]
    }
    public struct GreedyCase: Decodable, Sendable {
        public let prompt: String
        public let prompt_ids: [Int]
        public let greedy_ids: [Int]
        public let steps: [Step]
    }
    public struct Perplexity: Decodable, Sendable {
        public let text: String
        public let context: Int
        public let ppl: Double
    }
    public let model: String
    public let tokenize: [TokenizeCase]
    public let greedy: [GreedyCase]
    public let perplexity: Perplexity

    public static func load(_ model: String) throws -> Oracle {
        let url = URL(fileURLWithPath: Fixtures.directory + "/oracle/\(model).json")
        return try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: url))
    }

    /// Compare a greedy run with the oracle the way the issue defines it: ids identical until a
    /// near-tie (top two within `tieMargin`), where either token is accepted and comparison stops;
    /// each compared step's log-probability within `tolerance`. Returns a failure message or nil.
    public static func compareGreedy(_ expected: GreedyCase, ids: [Int], logprobs: [Double], steps: Int = 8,
                                     tieMargin: Double = 0.05, tolerance: Double = 0.05) -> String? {
        for i in 0..<min(steps, expected.steps.count) {
            guard i < ids.count else { return "step \(i): no token generated" }
            let step = expected.steps[i]
            let nearTie = step.top.count > 1 && step.top[0][1] - step.top[1][1] <= tieMargin
            if nearTie {
                let allowed = Set(step.top.prefix(2).map { Int($0[0]) })
                return allowed.contains(ids[i]) ? nil : "step \(i): got \(ids[i]), expected one of \(allowed) (near-tie)"
            }
            if ids[i] != step.id { return "step \(i): got \(ids[i]), expected \(step.id) (logprob \(step.logprob))" }
            if abs(logprobs[i] - step.logprob) > tolerance {
                return "step \(i): logprob \(logprobs[i]) vs oracle \(step.logprob)"
            }
        }
        return nil
    }
}
