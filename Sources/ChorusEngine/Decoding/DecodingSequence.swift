import ChorusModels
import ChorusSpeculative
import ChorusTokenizers

/// One sequence in the decode loop: its prompt and KV cache, the tokens it has emitted, the pending
/// token (the newest, not yet in the cache: the next round's input and a draft tree's root), its
/// sampler, stop rules, drafter and statistics, and where its tokens go.
///
/// While it decodes, the cache holds every token of `history` but the pending one. A sequence that
/// speculates reads its prompt but the last token, which becomes the first round's root; one that
/// does not reads all of it and samples its first token from the last row.
public final class DecodingSequence {
    public let job: SequenceJob
    public let cache: KVCache
    /// Prompt tokens whose keys and values are in the cache.
    public internal(set) var prefilled: Int
    /// Prompt tokens read before decoding starts: all, or all but the last when the sequence speculates.
    public let promptTarget: Int
    public internal(set) var pending: Int?
    /// The prompt and every emitted token.
    public internal(set) var history: [Int]
    /// Emitted tokens (end-of-generation tokens are not emitted).
    public internal(set) var generated: [Int] = []
    /// Emitted text, stop strings cut, trailing bytes flushed at the end.
    public internal(set) var text = ""
    public internal(set) var stopReason: StopReason?
    public internal(set) var statistics = SpeculativeStatistics()
    /// Whether this sequence drafts when the loop speculates.
    public let speculates: Bool

    var sampler: Sampler
    var rules: StopRules
    private var decoder: StreamingDecoder
    private var matcher: StopMatcher
    /// Its drafter while it speculates (a draft model's cache is per sequence).
    var drafter: (any Drafter)?
    private let onToken: (Int, String, TokenLogprob?) -> Bool
    /// Called once when the sequence ends, with the text held back until then.
    var onFinish: ((DecodingSequence, String) -> Void)?

    /// - Parameters:
    ///   - reused: prompt tokens whose keys and values `cache` already holds (slots 0..<reused).
    ///   - onToken: each emitted token with the text it completes and its log-probability (when the
    ///     job asks); return false to stop the sequence.
    init(job: SequenceJob, cache: KVCache, reused: Int, tokenizer: any Tokenizer, speculates: Bool,
         onToken: @escaping (Int, String, TokenLogprob?) -> Bool) {
        self.job = job
        self.cache = cache
        self.speculates = speculates
        promptTarget = speculates ? job.promptIDs.count - 1 : job.promptIDs.count
        prefilled = max(0, min(reused, cache.count, job.promptIDs.count - 1))
        cache.trim(to: prefilled)
        history = job.promptIDs
        sampler = Sampler(job.sampling)
        rules = StopRules(maxTokens: job.maxTokens, endOfGeneration: Set(tokenizer.endOfGenerationIDs), stops: job.stops,
                          ignoreEndOfGeneration: job.ignoreEndOfGeneration)
        decoder = StreamingDecoder(tokenizer: tokenizer)
        matcher = StopMatcher(stops: job.stops)
        self.onToken = onToken
        if prefilled == promptTarget { pending = job.promptIDs.last }
    }

    public var isFinished: Bool { stopReason != nil }
    /// Reading its prompt (nothing pending yet).
    public var isReadingPrompt: Bool { pending == nil && !isFinished }

    /// Records `count` more prompt tokens as read; the sequence decodes once its prompt target is reached.
    func read(_ count: Int) {
        prefilled += count
        if prefilled == promptTarget && speculates { pending = job.promptIDs.last }
    }

    /// Emits `token`, predicted by `logits`, under the stop rules; false once the sequence has ended.
    @discardableResult
    func emit(_ token: Int, logits: UnsafeBufferPointer<Float>) -> Bool {
        if generated.count >= rules.maxTokens {  // a budget of 0 reads the prompt and emits nothing
            finish(.maxTokens)
            return false
        }
        if rules.ends(at: token) {
            finish(.endOfGeneration)
            return false
        }
        generated.append(token)
        history.append(token)
        let logprob = job.topLogprobs.map { TokenLogprob(token: token, logits: logits, top: $0) }
        let (piece, stopped) = matcher.feed(decoder.append(token))
        text += piece
        if !onToken(token, piece, logprob) {
            finish(.stoppedByCaller, flush: false)
            return false
        }
        if stopped {
            finish(.stopString, flush: false)
            return false
        }
        if let reason = rules.stop(generated: generated.count, held: history.count - 1, capacity: cache.capacity) {
            finish(reason)
            return false
        }
        pending = token
        return true
    }

    /// Ends the sequence now (the caller cancelled it).
    public func cancel() { if !isFinished { finish(.stoppedByCaller, flush: false) } }

    /// Ends the sequence: flushes held-back text (unless cut), keeps only the cache slots of its
    /// history (accepted drafts past a stop go), frees its drafter and reports.
    func finish(_ reason: StopReason, flush: Bool = true) {
        stopReason = reason
        pending = nil
        drafter = nil
        var trailing = ""
        if flush {
            trailing = matcher.feed(decoder.flush()).text + matcher.flush()
            text += trailing
        }
        cache.trim(to: history.count)
        let report = onFinish
        onFinish = nil
        report?(self, trailing)
    }
}
