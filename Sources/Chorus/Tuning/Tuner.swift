import ChorusGGUF
import ChorusModels
import ChorusPlanner
import ChorusRuntime
import ChorusSpeculative
import Foundation

/// `chorus tune`: profile the machine and the models, measure each drafter's acceptance on
/// calibration prompts, search drafter x tree x width with the cost model, run the most promising
/// candidates for real and keep the fastest measured one as an execution plan.
public struct Tuner {
    public struct Options: Sendable {
        public var target: String
        public var drafters: [DrafterChoice]
        public var calibrationPath: String
        /// Rough wall-time budget for the measuring phase (profiling and calibration are cached).
        public var budgetSeconds: Double = 180
        public var threads: Int = LanguageModel.defaultThreads
        /// Target tokens generated per calibration prompt.
        public var calibrationTokens = 64
        /// Prompts and tokens per prompt each measured candidate runs.
        public var measurePrompts = 3
        public var measureTokens = 48
        /// Most candidates run for real (plain decoding is always run too).
        public var maxMeasured = 5
        public var maxWidth = 16
        /// Ignore cached profiles and measure again.
        public var fresh = false

        public init(target: String, drafters: [DrafterChoice], calibrationPath: String) {
            self.target = target
            self.drafters = drafters
            self.calibrationPath = calibrationPath
        }
    }

    public struct Report: Sendable {
        public var plan: ExecutionPlan
        public var winner: Candidate
        public var plain: Candidate
        /// Every candidate, best predicted first; measured ones carry `measuredTokensPerSecond`.
        public var candidates: [Candidate]
        public var reason: String
        public var profile: HardwareProfile
        public var costs: [ForwardCost]
        public var acceptance: [AcceptanceProfile]
    }

    public let options: Options
    public let store: ModelStore
    public let cache: TuneCache
    public let progress: (String) -> Void

    public init(options: Options, store: ModelStore = ModelStore(), cache: TuneCache = TuneCache(),
                progress: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.store = store
        self.cache = cache
        self.progress = progress
    }

    public func run() throws -> Report {
        let prompts = try PromptFile.load(path: options.calibrationPath)
        let promptsHash = SHA256.hex(SHA256.hash(Array(prompts.joined(separator: "\u{1}").utf8)))
        let targetPath = try store.resolve(options.target)
        let target = try LanguageModel(path: targetPath, pool: ThreadPool(threads: options.threads), maxBatch: 64)
        let pool = target.transformer.pool
        var draftModels: [String: LanguageModel] = [:]
        for case .model(let id) in options.drafters {
            // The draft model shares the target's pool: regions never overlap, and no second set of workers spins.
            let draft = try LanguageModel(path: try store.resolve(id), pool: pool, context: target.contextLength, maxBatch: 64)
            guard draft.tokenizer.vocabularySize == target.tokenizer.vocabularySize else {
                throw SpeculativeError.vocabularyMismatch(draft: draft.tokenizer.vocabularySize, target: target.tokenizer.vocabularySize)
            }
            draftModels[id] = draft
        }

        // 1. The machine.
        let machineKey = [TuneCache.machine, "threads=\(options.threads)"]
        let types = Set(([target] + Array(draftModels.values)).flatMap { $0.matrixReads.map(\.type) })
        let profile: HardwareProfile
        if !options.fresh, let cached = cache.load(HardwareProfile.self, kind: "hardware", key: machineKey + types.sorted()) {
            profile = cached
            progress("hardware profile: cached")
        } else {
            progress("profiling \(options.threads) compute unit(s): bandwidth, synchronisation, products of \(types.sorted().joined(separator: ", "))...")
            let ggmlTypes = GGMLType.allCases.filter { types.contains($0.name) }
            profile = HardwareProfiler.profile(pool: pool, types: ggmlTypes, widths: [1, 2, 4, 8, 16])
            cache.store(profile, kind: "hardware", key: machineKey + types.sorted())
        }

        // 2. Forward cost of each model at widths 1...maxWidth.
        func forwardCost(_ model: LanguageModel, name: String) throws -> ForwardCost {
            let key = machineKey + [TuneCache.fileIdentity(model.path), "widths=\(options.maxWidth)"]
            var cost: ForwardCost
            if !options.fresh, let cached = cache.load(ForwardCost.self, kind: "forward", key: key) {
                cost = cached
                progress("\(name): forward costs cached")
            } else {
                progress("\(name): timing forward passes of 1...\(options.maxWidth) rows")
                cost = try model.measureForwardCost(name: name, widths: Array(1...options.maxWidth), progress: progress)
                cache.store(cost, kind: "forward", key: key)
            }
            cost.fit(profile: profile)
            return cost
        }
        let targetCost = try forwardCost(target, name: options.target)
        var draftCosts: [String: ForwardCost] = [:]
        for (id, model) in draftModels { draftCosts[id] = try forwardCost(model, name: id) }

        // 3. Acceptance on the calibration prompts.
        let calibrator = AcceptanceCalibrator(target: target)
        let transcriptKey = [TuneCache.fileIdentity(targetPath), promptsHash, "tokens=\(options.calibrationTokens)"]
        let transcripts: [Transcript]
        if !options.fresh, let cached = cache.load([Transcript].self, kind: "transcripts", key: transcriptKey) {
            transcripts = cached
            progress("calibration: target outputs cached (\(cached.count) prompts)")
        } else {
            transcripts = try calibrator.transcripts(prompts: prompts, tokens: options.calibrationTokens, progress: progress)
            cache.store(transcripts, kind: "transcripts", key: transcriptKey)
        }
        var inputs: [Planner.DrafterInput] = []
        var profiles: [AcceptanceProfile] = []
        for choice in options.drafters {
            let key: [String]
            switch choice {
            case .none: continue
            case .ngram: key = transcriptKey + ["ngram", machineKey[0]]
            case .model(let id): key = transcriptKey + [TuneCache.fileIdentity(draftModels[id]!.path)]
            }
            let acceptance: AcceptanceProfile
            if !options.fresh, let cached = cache.load(AcceptanceProfile.self, kind: "acceptance", key: key) {
                acceptance = cached
                progress("calibration: \(choice) acceptance cached")
            } else {
                progress("calibration: measuring \(choice) acceptance")
                switch choice {
                case .model(let id): acceptance = try calibrator.calibrate(draft: draftModels[id]!, id: id, transcripts: transcripts)
                default: acceptance = try calibrator.calibrate(drafter: NGramDrafter(), choice: .ngram, transcripts: transcripts)
                }
                cache.store(acceptance, kind: "acceptance", key: key)
            }
            let row = acceptance.acceptance().first ?? []
            progress("calibration: \(choice): P(rank k) at depth 1 = [" + row.prefix(4).map { String(format: "%.2f", $0) }.joined(separator: " ") + "]")
            profiles.append(acceptance)
            inputs.append(.init(acceptance: acceptance, cost: choice.modelID.flatMap { draftCosts[$0] }))
        }

        // 4. Search.
        let planner = Planner(profile: profile, target: targetCost, drafters: inputs, maxWidth: options.maxWidth)
        var candidates = planner.candidates()

        // 5. Measure plain and the most promising candidates for real.
        let measureIDs = try Array(prompts.prefix(max(1, options.measurePrompts))).map { prompt in
            target.tokenize(target.chatTemplate != nil ? try target.chatPrompt(prompt) : prompt, addSpecial: true, parseSpecial: true)
        }
        var order: [Int] = []
        if let plainIndex = candidates.firstIndex(where: { $0.drafter == .none }) { order.append(plainIndex) }
        for i in candidates.indices where candidates[i].drafter != .none && order.count < 4 { order.append(i) }
        for choice in options.drafters where choice != .none {
            if let best = candidates.firstIndex(where: { $0.drafter == choice }), !order.contains(best) { order.append(best) }
        }
        order = Array(order.prefix(options.maxMeasured + 1))
        let started = ContinuousClock.now
        for (n, i) in order.enumerated() {
            if n >= 2 && (ContinuousClock.now - started).seconds > options.budgetSeconds {
                progress("budget of \(Int(options.budgetSeconds)) s spent: \(order.count - n) candidate(s) left unmeasured")
                break
            }
            let c = candidates[i]
            let plan = executionPlan(c, threads: options.threads, profile: profile)
            let decoder = try PlannedDecoder(plan: plan, model: target, draftModel: c.drafter.modelID.flatMap { draftModels[$0] }, store: store)
            var tokens = 0
            var seconds = 0.0
            for ids in measureIDs {
                let (result, _) = try decoder.generate(promptIDs: ids, cache: target.makeCache(), maxTokens: options.measureTokens)
                tokens += result.ids.count
                seconds += result.generationSeconds
            }
            candidates[i].measuredTokensPerSecond = seconds > 0 ? Double(tokens) / seconds : 0
            progress(String(format: "measured %@ %@: %.1f tokens/s (predicted %.1f)", c.drafter.description, c.treeDescription,
                            candidates[i].measuredTokensPerSecond ?? 0, c.predictedTokensPerSecond))
        }
        target.transformer.plan = .uniform(units: options.threads)

        // 6. The fastest measured candidate wins; plain decoding is always among them.
        let measured = candidates.filter { $0.measuredTokensPerSecond != nil }
        let plain = measured.first { $0.drafter == .none } ?? planner.plain
        let winner = measured.max { ($0.measuredTokensPerSecond ?? 0) < ($1.measuredTokensPerSecond ?? 0) } ?? plain
        let plan = executionPlan(winner, threads: options.threads, profile: profile)
        return Report(plan: plan, winner: winner, plain: plain, candidates: candidates,
                      reason: Self.reason(winner: winner, plain: plain, measured: measured, target: targetCost, profile: profile),
                      profile: profile, costs: [targetCost] + draftCosts.keys.sorted().map { draftCosts[$0]! }, acceptance: profiles)
    }

    func executionPlan(_ c: Candidate, threads: Int, profile: HardwareProfile) -> ExecutionPlan {
        var partition = PartitionPlanner.plan(for: profile)
        if partition.units.count != threads { partition = .uniform(units: threads) }
        return ExecutionPlan(model: options.target, threads: threads, drafter: c.drafter, shape: c.shape, partition: partition,
                             predictedTokensPerSecond: c.predictedTokensPerSecond)
    }

    static func reason(winner: Candidate, plain: Candidate, measured: [Candidate], target: ForwardCost, profile: HardwareProfile) -> String {
        let plainRate = plain.measuredTokensPerSecond ?? plain.predictedTokensPerSecond
        let single = target.seconds(width: 1, profile: profile)
        if winner.drafter == .none {
            guard let best = measured.filter({ $0.drafter != .none }).max(by: { ($0.measuredTokensPerSecond ?? 0) < ($1.measuredTokensPerSecond ?? 0) }) else {
                return String(format: "plain decoding (%.1f tokens/s): no speculative candidate was measured", plainRate)
            }
            let verifyRatio = best.verifySeconds / single
            return String(format: "plain decoding won at %.1f tokens/s: the best speculative candidate (%@, tree %@) measured %.1f; it accepts %.2f drafted tokens per round, but verifying %.1f rows costs %.1fx a single-token step and drafting adds %.0f ms",
                          plainRate, best.drafter.description, best.treeDescription, best.measuredTokensPerSecond ?? 0,
                          best.expectedAccepted, best.verificationWidth, verifyRatio, best.draftSeconds * 1e3)
        }
        return String(format: "%@ with tree %@ won at %.1f tokens/s, %.2fx plain decoding (%.1f): %.2f tokens per round for %.0f ms verifying %.1f rows (%.1fx a single step) plus %.0f ms drafting",
                      winner.drafter.description, winner.treeDescription, winner.measuredTokensPerSecond ?? 0,
                      (winner.measuredTokensPerSecond ?? 0) / max(plainRate, 1e-9), plainRate, winner.expectedAccepted + 1,
                      winner.verifySeconds * 1e3, winner.verificationWidth, winner.verifySeconds / single, winner.draftSeconds * 1e3)
    }
}

extension DrafterChoice {
    /// The draft model's id, when the drafter is a model.
    public var modelID: String? {
        if case .model(let id) = self { return id }
        return nil
    }
}
