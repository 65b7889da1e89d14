import Chorus
import ChorusTokenizers
import Foundation

/// A string or a list of strings (OpenAI's `stop` and `prompt`).
enum StringOrList: Decodable, Sendable {
    case one(String)
    case many([String])
    case tokens([Int])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            self = .one(s)
        } else if let list = try? c.decode([String].self) {
            self = .many(list)
        } else if let ids = try? c.decode([Int].self) {
            self = .tokens(ids)
        } else {
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string or a list of strings"))
        }
    }

    var strings: [String] {
        switch self {
        case .one(let s): return [s]
        case .many(let list): return list
        case .tokens: return []
        }
    }
}

/// Message content: a string or a list of parts (`{"type": "text", "text": ...}`); text parts are joined.
struct MessageContent: Decodable, Sendable {
    var text: String

    struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            text = ""
        } else if let s = try? c.decode(String.self) {
            text = s
        } else {
            let parts = try c.decode([Part].self)
            guard parts.allSatisfy({ $0.type == "text" }) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "only text content parts are supported"))
            }
            text = parts.compactMap(\.text).joined()
        }
    }
}

/// Chorus's own extension fields (`"chorus": {...}`).
struct ChorusExtensions: Decodable, Sendable {
    var skeleton_of_thought: Bool?
}

struct StreamOptions: Decodable, Sendable {
    var include_usage: Bool?
}

/// Fields both endpoints share, with OpenAI's names; unknown fields are ignored, known ones of the
/// wrong type are refused.
struct GenerationFields: Decodable, Sendable {
    var model: String?
    var max_tokens: Int?
    var max_completion_tokens: Int?
    var temperature: Double?
    var top_p: Double?
    var top_k: Int?
    var min_p: Double?
    var repeat_penalty: Double?
    var seed: Int64?
    var stop: StringOrList?
    var n: Int?
    var stream: Bool?
    var stream_options: StreamOptions?
    var chorus: ChorusExtensions?
    var ignore_eos: Bool?
}

struct ChatMessageBody: Decodable, Sendable {
    var role: String
    var content: MessageContent?
}

struct ChatCompletionBody: Decodable, Sendable {
    var messages: [ChatMessageBody]
    var logprobs: Bool?
    var top_logprobs: Int?
}

struct CompletionBody: Decodable, Sendable {
    var prompt: StringOrList
    var logprobs: Int?
    var echo: Bool?
}

/// A request refused before generation: OpenAI's error object with an HTTP status.
struct APIError: Error, Sendable {
    var status: Int
    var message: String
    var type: String
    var param: String?
    var code: String?
    var retryAfter: Int?

    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    var json: JSON {
        .object([
            ("error", .object([
                ("message", .string(message)), ("type", .string(type)),
                ("param", param.map(JSON.string) ?? .null), ("code", code.map(JSON.string) ?? .null),
            ])),
        ])
    }
}

extension APIError {
    /// A readable message for a JSON decoding failure: which field, what was expected.
    init(decoding error: any Error) {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case DecodingError.typeMismatch(let type, let context):
            self = .invalid("'\(path(context.codingPath))' has the wrong type (expected \(type)): \(context.debugDescription)", param: path(context.codingPath))
        case DecodingError.valueNotFound(_, let context):
            self = .invalid("'\(path(context.codingPath))' must not be null", param: path(context.codingPath))
        case DecodingError.keyNotFound(let key, let context):
            let full = path(context.codingPath + [key])
            self = .invalid("missing required field '\(full)'", param: full)
        case DecodingError.dataCorrupted(let context):
            if context.codingPath.isEmpty {
                self = .invalid("the request body is not valid JSON")
            } else {
                self = .invalid("'\(path(context.codingPath))': \(context.debugDescription)", param: path(context.codingPath))
            }
        default:
            self = .invalid("the request body is not valid JSON")
        }
    }
}

/// A validated generation request: prompts (one per OpenAI `prompt` entry) and the jobs' settings.
struct GenerationPlan: Sendable {
    var prompts: [[Int]]
    var choicesPerPrompt: Int
    var maxTokens: Int
    var sampling: SamplingParameters
    var stops: [String]
    var topLogprobs: Int?
    var stream: Bool
    var includeUsage: Bool
    var model: String
    var ignoreEndOfGeneration: Bool
    /// Answer by skeleton-of-thought (chat only): outline first, then all points expanded in parallel.
    var skeletonOfThought: Bool

    /// One job per (prompt, choice); choice i of a seeded request uses seed + i.
    var jobs: [SequenceJob] {
        prompts.flatMap { ids in
            (0..<choicesPerPrompt).map { i in
                var sampling = self.sampling
                sampling.seed &+= UInt64(i)
                var job = SequenceJob(promptIDs: ids, maxTokens: maxTokens, sampling: sampling, stops: stops, topLogprobs: topLogprobs)
                job.ignoreEndOfGeneration = ignoreEndOfGeneration
                return job
            }
        }
    }

    /// Checks the shared fields against the model and the server's limits.
    init(fields f: GenerationFields, prompts: [[Int]], topLogprobs: Int?, context: Int, slots: Int, modelName: String) throws {
        guard !prompts.isEmpty else { throw APIError.invalid("the prompt list is empty", param: "prompt") }
        let n = f.n ?? 1
        guard n >= 1 && n <= slots else {
            throw APIError.invalid("'n' must be between 1 and \(slots) (the server's --parallel)", param: "n")
        }
        guard prompts.count * n <= slots else {
            throw APIError.invalid("\(prompts.count) prompts x n=\(n) sequences exceed the server's \(slots) slots", param: "n")
        }
        for ids in prompts {
            guard !ids.isEmpty else { throw APIError.invalid("the prompt is empty", param: "prompt") }
            guard ids.count < context else {
                throw APIError.invalid(
                    "This model's maximum context length is \(context) tokens. However, your prompt has \(ids.count) tokens; no room is left for a completion.",
                    param: "messages", code: "context_length_exceeded")
            }
        }
        let longest = prompts.map(\.count).max()!
        let room = context - longest
        if let m = f.max_completion_tokens ?? f.max_tokens {
            guard m >= 1 else { throw APIError.invalid("'max_tokens' must be at least 1", param: "max_tokens") }
            guard m <= room else {
                throw APIError.invalid(
                    "This model's maximum context length is \(context) tokens. However, you requested \(longest + m) tokens (\(longest) in the prompt, \(m) for the completion). Please reduce the prompt or max_tokens.",
                    param: "max_tokens", code: "context_length_exceeded")
            }
            maxTokens = m
        } else {
            maxTokens = room
        }
        var p = SamplingParameters()
        if let t = f.temperature {
            guard t >= 0 && t <= 2 else { throw APIError.invalid("'temperature' must be between 0 and 2", param: "temperature") }
            p.temperature = Float(t)
        }
        if let top = f.top_p {
            guard top > 0 && top <= 1 else { throw APIError.invalid("'top_p' must be in (0, 1]", param: "top_p") }
            p.topP = Float(top)
        }
        if let k = f.top_k {
            guard k >= 0 else { throw APIError.invalid("'top_k' must be >= 0", param: "top_k") }
            p.topK = k
        }
        if let m = f.min_p {
            guard m >= 0 && m <= 1 else { throw APIError.invalid("'min_p' must be in [0, 1]", param: "min_p") }
            p.minP = Float(m)
        }
        if let r = f.repeat_penalty {
            guard r > 0 && r.isFinite else { throw APIError.invalid("'repeat_penalty' must be > 0", param: "repeat_penalty") }
            p.repeatPenalty = Float(r)
        }
        p.seed = f.seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max)
        sampling = p
        let stops = f.stop?.strings ?? []
        guard stops.count <= 4 else { throw APIError.invalid("at most 4 stop sequences are allowed", param: "stop") }
        self.stops = stops
        if let k = topLogprobs {
            guard k >= 0 && k <= 20 else { throw APIError.invalid("'top_logprobs' must be between 0 and 20", param: "top_logprobs") }
        }
        self.topLogprobs = topLogprobs
        skeletonOfThought = f.chorus?.skeleton_of_thought ?? false
        if skeletonOfThought {
            guard n == 1, topLogprobs == nil, stops.isEmpty else {
                throw APIError.invalid("skeleton_of_thought works with n=1 and without logprobs or stop", param: "chorus.skeleton_of_thought")
            }
        }
        self.prompts = prompts
        choicesPerPrompt = n
        stream = f.stream ?? false
        includeUsage = f.stream_options?.include_usage ?? false
        model = f.model ?? modelName
        ignoreEndOfGeneration = f.ignore_eos ?? false
    }
}
