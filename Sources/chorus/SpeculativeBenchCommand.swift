import ArgumentParser
import Chorus
import ChorusRuntime
import ChorusSpeculative
import Foundation

/// `chorus bench --prompts FILE.jsonl --draft D --tree ...`: plain against speculative decoding.
struct SpeculativeBenchOptions: ParsableArguments {
    @Option(help: "Compare plain and speculative decoding over the prompts of this JSON-lines file (one {\"prompt\": ...} object per line, wrapped in the chat template); -n is the tokens per prompt.")
    var prompts: String?
    @Option(help: "Draft model (catalog id or .gguf path) or `ngram`; repeat for several.") var draft: [String] = []
    @Option(parsing: .unconditionalSingleValue, help: "Token-tree shape, e.g. 3,2,1; repeat for several.") var tree: [String] = []
    @Option(help: "Chain of K drafted tokens; repeat for several (default 4 when no --tree).", range: 1...63) var draftLength: [Int] = []
    @Option(help: "Sampling temperature for every run (0: greedy, which also checks tokens equal plain decoding's).", range: 0...100)
    var temperature: Float = 0
    @Option(help: "Seed for sampling runs.", range: 0...UInt64.max) var seed: UInt64 = 0
    @Flag(help: "Also run each draft-model chain with lookahead: the draft model drafts the next chain on its own thread while the target verifies on --threads - 1 threads.")
    var lookahead = false
    @Option(help: "A draft model proposes from its first N token ids and the end-of-generation ids only (0: every id).", range: 0...Int(Int32.max))
    var draftVocabulary: Int = ModelDrafter.defaultVocabulary
    @Option(help: "Compare an execution plan from `chorus tune` with plain decoding on --prompts (-n tokens each).") var plan: String?

    func validate() throws {
        if plan != nil {
            guard prompts != nil else { throw ValidationError("--plan needs --prompts") }
            guard draft.isEmpty, tree.isEmpty, draftLength.isEmpty else { throw ValidationError("--plan gives the drafter and tree; drop --draft, --tree and --draft-length") }
            return
        }
        guard prompts != nil else {
            if !draft.isEmpty || !tree.isEmpty || !draftLength.isEmpty { throw ValidationError("--draft, --tree and --draft-length need --prompts") }
            return
        }
        guard !draft.isEmpty else { throw ValidationError("--prompts needs at least one --draft") }
        for t in tree {
            do { _ = try TreeShape.parse(t) } catch { throw ValidationError("--tree: \(error)") }
        }
    }

    var shapes: [TreeShape] {
        get throws {
            let lengths = draftLength.isEmpty && tree.isEmpty ? [4] : draftLength
            return try lengths.map(TreeShape.chain) + tree.map(TreeShape.parse)
        }
    }
}

extension BenchCommand {
    func runSpeculative() throws {
        let spec = speculative
        let shapes = try spec.shapes
        let widest = shapes.map(\.nodeCount).max() ?? 1
        let model = try options.load(maxBatch: max(64, widest + 1))
        let prompts = try SpeculativeBenchmark.loadPrompts(spec.prompts!)
        var settings: [SpeculativeBenchmark.Setting] = []
        let store = ModelStore(progress: .standardError())
        for draft in spec.draft {
            let choice = DrafterChoice(draft)
            var draftModel: LanguageModel?
            if case .model(let id) = choice {
                draftModel = try LanguageModel(path: store.resolve(id), pool: model.transformer.pool, context: model.contextLength,
                                               maxBatch: max(64, widest + 1))
            }
            let file = URL(fileURLWithPath: draft).lastPathComponent
            let label = file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
            for shape in shapes {
                let kind = shape.branching.allSatisfy { $0 == 1 } ? "chain \(shape.depth)" : "tree \(shape)"
                let drafting = DraftingChoice(drafter: choice, shape: shape, draftVocabulary: spec.draftVocabulary)
                settings.append(.init(name: "\(label) \(kind)",
                                      speculation: try drafting.speculation(target: model, draftModel: draftModel, resolve: { try store.resolve($0) })))
            }
            if spec.lookahead, let draftModel {
                // Target on threads - 1 cores, draft model alone on the last: separate pools, same weights (mapped once).
                let targetThreads = max(1, options.threads - 1)
                let target = try LanguageModel(path: model.path, pool: ThreadPool(threads: targetThreads, pin: false),
                                               context: model.contextLength, maxBatch: max(64, widest + 1))
                let soloDraft = try LanguageModel(path: draftModel.path, pool: ThreadPool(threads: 1, pin: false),
                                                  context: model.contextLength, maxBatch: max(64, widest + 1))
                let ahead = LookaheadDrafter(try ModelDrafter(draft: soloDraft, target: target, vocabulary: spec.draftVocabulary))
                for shape in shapes where shape.branching.allSatisfy({ $0 == 1 }) {
                    settings.append(.init(name: "\(label) chain \(shape.depth) lookahead", speculation: Speculation(drafter: ahead, shape: shape),
                                          target: target))
                }
            }
        }
        var sampling = SamplingParameters.greedy
        if spec.temperature > 0 {
            sampling = SamplingParameters()
            sampling.temperature = spec.temperature
            sampling.seed = spec.seed
        }
        let benchmark = SpeculativeBenchmark(model: model, settings: settings, maxTokens: generateTokens, sampling: sampling)
        let rows = try benchmark.run(prompts: prompts) { Output.standardError($0) }
        let plain = rows[0]
        if json {
            try Output.json([
                "model": options.model, "threads": options.threads, "prompts": prompts.count, "max_tokens": generateTokens,
                "temperature": Double(spec.temperature),
                "rows": rows.map { row -> [String: Any] in
                    let s = row.statistics
                    return [
                        "setting": row.name, "generated": row.generated, "seconds": row.seconds,
                        "tokens_per_second": row.tokensPerSecond,
                        "speedup": plain.tokensPerSecond > 0 ? row.tokensPerSecond / plain.tokensPerSecond : 0,
                        "verifications": s.verifications, "drafted": s.drafted, "accepted": s.accepted,
                        "tokens_per_verification": s.tokensPerVerification, "acceptance_rate": s.acceptanceRate,
                        "acceptance_by_depth": s.acceptanceByDepth, "draft_seconds": s.draftSeconds,
                        "verify_seconds": s.verifySeconds, "prompts_matching_plain": row.matchingPlain,
                    ]
                },
            ])
            return
        }
        print("model: \(options.model)  threads: \(options.threads)  prompts: \(prompts.count)  -n \(generateTokens)  "
              + (sampling.isGreedy ? "greedy" : "temperature \(spec.temperature)"))
        // String(format:) does not pad %@ on Linux: pad by hand.
        func row(_ cells: [String]) -> String {
            let widths = [34, 7, 9, 8, 9, 7, 8, 9, 7]
            return zip(cells, widths).enumerated().map { i, cell in
                let padding = String(repeating: " ", count: max(0, cell.1 - cell.0.count))
                return i == 0 ? cell.0 + padding : padding + cell.0
            }.joined(separator: " ")
        }
        print(row(["setting", "tokens", "tokens/s", "speedup", "tok/verif", "accept", "draft s", "verify s",
                   sampling.isGreedy ? "=plain" : ""]))
        for r in rows {
            let s = r.statistics
            let isPlain = r.name == "plain"
            print(row([r.name, "\(r.generated)", String(format: "%.2f", r.tokensPerSecond),
                       String(format: "%.2fx", plain.tokensPerSecond > 0 ? r.tokensPerSecond / plain.tokensPerSecond : 0),
                       isPlain ? "1.00" : String(format: "%.2f", s.tokensPerVerification),
                       isPlain ? "-" : String(format: "%.1f%%", 100 * s.acceptanceRate),
                       isPlain ? "-" : String(format: "%.2f", s.draftSeconds),
                       String(format: "%.2f", isPlain ? r.seconds : s.verifySeconds),
                       sampling.isGreedy ? "\(r.matchingPlain)/\(prompts.count)" : ""]))
        }
        print("tokens/s: generated tokens over decoding time (prefill excluded; a speculative run's first verification also evaluates the last prompt token)")
    }
}
