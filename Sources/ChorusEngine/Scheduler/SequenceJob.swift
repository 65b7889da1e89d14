/// One sequence to generate: a prompt with its budget, sampling and stop strings. A server request
/// with `n` choices submits n jobs.
public struct SequenceJob: Sendable {
    public var promptIDs: [Int]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stops: [String]
    /// How many alternatives to report with each token's log-probability; nil: no log-probabilities.
    public var topLogprobs: Int?
    /// Keep generating through end-of-generation tokens (llama-server's `ignore_eos`, for benchmarks).
    public var ignoreEndOfGeneration = false

    public init(promptIDs: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stops: [String] = [],
                topLogprobs: Int? = nil) {
        self.promptIDs = promptIDs
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stops = stops
        self.topLogprobs = topLogprobs
    }
}

/// Why a sequence ended, in OpenAI's terms (`cancelled` when the client left or the server stopped).
public enum FinishReason: String, Sendable {
    case stop, length, cancelled

    public init(_ reason: StopReason) {
        switch reason {
        case .endOfGeneration, .stopString: self = .stop
        case .maxTokens, .contextFull: self = .length
        case .stoppedByCaller: self = .cancelled
        }
    }
}

/// What a running sequence reports, in order: tokens as they are sampled, then one `finished`.
public enum SequenceEvent: Sendable {
    /// `text` is what became printable with this token (empty while a character or a possible stop
    /// string is incomplete).
    case token(id: Int, text: String, logprob: TokenLogprob?)
    case finished(reason: FinishReason, promptTokens: Int, completionTokens: Int, trailingText: String)
}

/// Why the scheduler refused jobs.
public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    case queueFull(retryAfterSeconds: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .queueFull: return "all slots and the queue are full; retry later"
        case .shuttingDown: return "the server is shutting down"
        }
    }
}
