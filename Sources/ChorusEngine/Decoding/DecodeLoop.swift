import ChorusModels
import ChorusSpeculative
import Foundation

/// The one decode loop under every front end: each step builds one forward pass over the unfinished
/// sequences (a decoding row or a draft tree per decoding sequence, prompt chunks in the rows left)
/// and turns the logits into emitted tokens (sampling or verification, stop rules, reporting).
/// A single generation, a batch, the server's scheduler and skeleton-of-thought differ only in how
/// many sequences they pass and who waits for the tokens; the forward pass may be local, under a
/// partition plan or pipelined across processes (`ForwardPass`).
public final class DecodeLoop {
    public let model: LanguageModel
    public let speculation: Speculation?
    /// Rows per step: decoding rows and trees first, prompt chunks fill the rest.
    public let rowBudget: Int

    /// - Parameter rowBudget: rows per pass (at most the model's batch limit when several sequences
    ///   share a pass); nil: unlimited, for a lone sequence whose prompt the forward pass chunks itself.
    public init(model: LanguageModel, speculation: Speculation? = nil, rowBudget: Int? = nil) throws {
        if let speculation {
            guard speculation.shape.nodeCount + 1 <= model.maxBatch else {
                throw SpeculativeError.treeTooLarge(nodes: speculation.shape.nodeCount + 1, maxBatch: model.maxBatch)
            }
            guard model.transformer.context.rounding == .batchInvariant else {
                throw EngineError.invalidArgument("speculative decoding needs batch-invariant rounding (a tree row must equal its chain); drop --llama-cpp-rounding")
            }
        }
        self.model = model
        self.speculation = speculation
        self.rowBudget = max(1, rowBudget ?? .max)
    }

    /// A sequence for `job` in `cache`, whose slots 0..<reused hold the start of its prompt.
    public func sequence(_ job: SequenceJob, cache: KVCache, reused: Int = 0,
                         onToken: @escaping (Int, String, TokenLogprob?) -> Bool = { _, _, _ in true }) throws -> DecodingSequence {
        try job.sampling.validate()
        guard !job.promptIDs.isEmpty else { throw EngineError.emptyPrompt }
        guard job.promptIDs.count <= cache.capacity else {
            throw EngineError.promptTooLong(tokens: job.promptIDs.count, context: cache.capacity)
        }
        let speculates = speculation?.applies(to: job.sampling) ?? false
        return DecodingSequence(job: job, cache: cache, reused: reused, tokenizer: model.tokenizer, speculates: speculates,
                                onToken: onToken)
    }

    /// Steps until every sequence has finished.
    public func run(_ sequences: [DecodingSequence]) throws {
        while sequences.contains(where: { !$0.isFinished }) { try step(sequences) }
    }

    /// What one step did, for metrics.
    public struct StepReport: Sendable {
        public var rows = 0
        public var sequences = 0
        public var promptRows = 0
        public var generated = 0
        public var drafted = 0
        public var accepted = 0
        public var verifications = 0
        public var seconds = 0.0
    }

    /// A sequence's share of a pass: its segment and what its logit rows are for.
    private struct Member {
        enum Use {
            /// A prompt chunk; with logits when it ends the prompt (the first token is sampled there).
            case prompt(sampled: Bool)
            /// A decoding row or draft tree after `committed` tokens.
            case decode(DraftTree, committed: Int, speculating: Bool)
        }
        let sequence: DecodingSequence
        let segment: Segment
        let use: Use
        /// The member's first row among the pass's logit rows.
        let firstLogit: Int
    }

    /// One forward pass over the unfinished `sequences`, then their tokens.
    @discardableResult
    public func step(_ sequences: [DecodingSequence]) throws -> StepReport {
        let clock = ContinuousClock()
        let start = clock.now
        var report = StepReport()
        let members = try plan(sequences, report: &report)
        guard !members.isEmpty else { return report }
        let segments = members.map(\.segment)
        let logits = segments.count == 1
            ? try model.forwardPass.forward(segments[0].batch, cache: segments[0].cache)
            : try model.forwardPass.forward(segments: segments)
        let passSeconds = (clock.now - start).seconds
        for member in members {
            let sequence = member.sequence
            let before = sequence.generated.count
            switch member.use {
            case .prompt(let sampled):
                sequence.read(member.segment.batch.count)
                if sampled { sample(sequence, logits.row(member.firstLogit)) }
            case .decode(let draft, let committed, let speculating):
                if !speculating {
                    sample(sequence, logits.row(member.firstLogit))
                    break
                }
                let verifyStart = clock.now
                let (accepted, next) = Verification.verify(draft, row: { logits.row(member.firstLogit + $0) },
                                                           sampling: sequence.job.sampling, random: &sequence.sampler.random)
                try model.forwardPass.commitTree(rows: accepted, committed: committed, cache: sequence.cache)
                sequence.statistics.verifySeconds += passSeconds + (clock.now - verifyStart).seconds
                sequence.statistics.verifications += 1
                sequence.statistics.drafted += draft.tree.draftedCount
                sequence.statistics.accepted += accepted.count
                sequence.statistics.record(treeDepth: draft.tree.maxDepth, acceptedDepth: accepted.count)
                report.verifications += 1
                report.drafted += draft.tree.draftedCount
                report.accepted += accepted.count
                // Emit the accepted drafts then the bonus, as plain decoding would have, one at a time;
                // each token's log-probability comes from the row that predicted it.
                let nodes = [0] + accepted
                let tokens = accepted.map { draft.tree.tokens[$0] } + [next]
                for (i, token) in tokens.enumerated() {
                    guard sequence.emit(token, logits: logits.row(member.firstLogit + nodes[i])) else { break }
                }
            }
            report.generated += sequence.generated.count - before
        }
        report.sequences = segments.count
        report.rows = segments.reduce(0) { $0 + $1.batch.count }
        report.seconds = (clock.now - start).seconds
        return report
    }

    /// Plain sampling of the next token (with the repeat penalty over the history).
    private func sample(_ sequence: DecodingSequence, _ row: UnsafeBufferPointer<Float>) {
        sequence.emit(sequence.sampler.sample(row, history: sequence.history), logits: row)
    }

    /// The pass: every decoding sequence's row or draft tree (drafted within the budget the others
    /// leave; past the budget, decoding sequences wait a step), then prompt chunks of the sequences
    /// reading their prompts, in order, in the rows left.
    private func plan(_ sequences: [DecodingSequence], report: inout StepReport) throws -> [Member] {
        let decoding = Array(sequences.filter { $0.pending != nil }.prefix(rowBudget))
        let speculating = speculation.map { decoding.count <= $0.maxSequences } ?? false
        var members: [Member] = []
        var budget = rowBudget
        var logitRows = 0
        for (i, sequence) in decoding.enumerated() {
            let committed = sequence.cache.count
            let room = min(budget - (decoding.count - i - 1), sequence.cache.capacity - committed)
            if !speculating { sequence.drafter = nil }  // not speculating: free its draft cache
            let drafted = speculating && sequence.speculates ? try draft(for: sequence, limit: room) : nil
            let draft = drafted ?? DraftTree(tree: TokenTree(root: sequence.pending!))
            let batch = draft.tree.verificationBatch(committed: committed)
            members.append(Member(sequence: sequence, segment: Segment(batch, cache: sequence.cache),
                                  use: .decode(draft, committed: committed, speculating: drafted != nil), firstLogit: logitRows))
            logitRows += batch.logitRows.count
            budget -= batch.count
        }
        for sequence in sequences where sequence.isReadingPrompt && budget > 0 && sequence.prefilled < sequence.promptTarget {
            let prompt = sequence.job.promptIDs
            let end = sequence.prefilled + min(budget, sequence.promptTarget - sequence.prefilled)
            let sampled = end == prompt.count
            let batch = Batch.sequence(Array(prompt[sequence.prefilled..<end]), start: sequence.prefilled, logits: sampled ? .last : .none)
            members.append(Member(sequence: sequence, segment: Segment(batch, cache: sequence.cache), use: .prompt(sampled: sampled),
                                  firstLogit: logitRows))
            logitRows += batch.logitRows.count
            budget -= batch.count
            report.promptRows += batch.count
        }
        return members
    }

    /// A draft tree rooted at the sequence's pending token, at most `limit` nodes (root included);
    /// nil when there is no room for a drafted node.
    private func draft(for sequence: DecodingSequence, limit: Int) throws -> DraftTree? {
        guard let speculation else { return nil }
        let limit = min(limit, speculation.rows(maxBatch: model.maxBatch))
        guard limit > 1 else { return nil }
        let drafter = try startDrafting(sequence)
        let start = ContinuousClock.now
        var draft: DraftTree
        if sequence.job.sampling.isGreedy {
            draft = DraftTree(tree: try drafter.draft(context: sequence.history, shape: speculation.shape, limit: limit))
        } else {
            draft = try drafter.draft(context: sequence.history, shape: speculation.shape, limit: limit,
                                      policy: SamplerPolicy(sequence.job.sampling), random: &sequence.sampler.random)
        }
        if draft.tree.count > limit { draft = draft.prefix(limit) }
        sequence.statistics.draftSeconds += (ContinuousClock.now - start).seconds
        return draft
    }

    /// The sequence's drafter, made (and given the sequence so far) on first use. Its prompt
    /// processing counts as `draftPromptSeconds`.
    @discardableResult
    public func startDrafting(_ sequence: DecodingSequence) throws -> any Drafter {
        if let drafter = sequence.drafter { return drafter }
        guard let speculation, sequence.speculates, sequence.pending != nil else {
            throw EngineError.invalidArgument("this sequence does not speculate (yet)")
        }
        let start = ContinuousClock.now
        let drafter = try speculation.makeDrafter()
        try drafter.prefill(Array(sequence.history.dropLast()))
        sequence.statistics.draftPromptSeconds += (ContinuousClock.now - start).seconds
        sequence.drafter = drafter
        return drafter
    }
}
