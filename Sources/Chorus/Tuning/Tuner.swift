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
        /// Unit counts tried (the first is the reference for plain decoding): all threads, and one
        /// unit, which wins when other processes keep taking the cores a spinning pool waits on.
        public var unitCounts: [Int] { threads > 1 && considerSingleUnit ? [threads, 1] : [threads] }
        public var considerSingleUnit = true
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
        /// Every model's forward cost per unit count, with the fitted model's error at each measured width.
        public var costs: [FittedCost]
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

    /// The models loaded on a pool of some unit count, with that pool's profile and forward costs.
    struct Setting {
        var threads: Int
        var target: LanguageModel
        var drafts: [String: LanguageModel]
        var profile: HardwareProfile
        var targetCost: ForwardCost
        var draftCosts: [String: ForwardCost]
    }

    /// Load the models on a pool of `threads` units, profile it and time the models' forward passes.
    func setting(threads: Int, targetPath: String) throws -> Setting {
        let target = try LanguageModel(path: targetPath, pool: ThreadPool(threads: threads), maxBatch: 64)
        let pool = target.transformer.pool
        var drafts: [String: LanguageModel] = [:]
        for case .model(let id) in options.drafters {
            // The draft model shares the target's pool: regions never overlap, and no second set of workers spins.
            let loaded = try LanguageModel(path: try store.resolve(id), pool: pool, context: target.contextLength, maxBatch: 64)
            guard loaded.tokenizer.vocabularySize == target.tokenizer.vocabularySize else {
                throw SpeculativeError.vocabularyMismatch(draft: loaded.tokenizer.vocabularySize, target: target.tokenizer.vocabularySize)
            }
            // Timed and calibrated as it drafts: from its default vocabulary (`ModelDrafter`).
            let ids = ModelDrafter.headVocabulary(of: loaded, vocabulary: ModelDrafter.defaultVocabulary)
            let draft = try loaded.with { $0.headVocabulary = ids }
            drafts[id] = draft
        }
        let machineKey = [TuneCache.machine, "threads=\(threads)", TuneCache.build]
        let types = Set(([target] + Array(drafts.values)).flatMap { $0.matrixReads.map(\.type) }).sorted()
        let profile: HardwareProfile = cache.value(kind: "hardware", key: machineKey + types, fresh: options.fresh,
                                                   hit: { progress("\(threads) unit(s): hardware profile cached") }) {
            progress("\(threads) unit(s): profiling bandwidth, synchronisation, products of \(types.joined(separator: ", "))...")
            return HardwareProfiler.profile(pool: pool, types: GGMLType.allCases.filter { types.contains($0.name) }, widths: [1, 2, 4, 8, 16])
        }
        func forwardCost(_ model: LanguageModel, name: String) throws -> ForwardCost {
            let key = machineKey + [TuneCache.fileIdentity(model.path), "widths=\(options.maxWidth)",
                                    "head=\(model.transformer.context.headVocabulary.map { "\($0)" } ?? "all")"]
            var cost: ForwardCost = try cache.value(kind: "forward", key: key, fresh: options.fresh,
                                                    hit: { progress("\(threads) unit(s): \(name) forward costs cached") }) {
                progress("\(threads) unit(s): \(name): timing forward passes of 1...\(options.maxWidth) rows")
                return try model.measureForwardCost(name: name, widths: Array(1...options.maxWidth), progress: progress)
            }
            cost.fit(profile: profile)
            return cost
        }
        let targetCost = try forwardCost(target, name: options.target)
        var draftCosts: [String: ForwardCost] = [:]
        for (id, model) in drafts { draftCosts[id] = try forwardCost(model, name: id) }
        return Setting(threads: threads, target: target, drafts: drafts, profile: profile, targetCost: targetCost, draftCosts: draftCosts)
    }

    public func run() throws -> Report {
        let prompts = try PromptFile.load(path: options.calibrationPath)
        let promptsHash = SHA256.hex(SHA256.hash(Array(prompts.joined(separator: "\u{1}").utf8)))
        let targetPath = try store.resolve(options.target)

        // 1-2. Per unit count: the machine's profile and the models' forward costs.
        var settings: [Setting] = []
        for threads in options.unitCounts { settings.append(try setting(threads: threads, targetPath: targetPath)) }
        let main = settings[0]

        // 3. Acceptance on the calibration prompts (the same bits whatever the unit count).
        let calibrator = AcceptanceCalibrator(target: main.target)
        let transcriptKey = [TuneCache.fileIdentity(targetPath), promptsHash, "tokens=\(options.calibrationTokens)"]
        let transcripts: [Transcript] = try cache.value(kind: "transcripts", key: transcriptKey, fresh: options.fresh,
                                                        hit: { progress("calibration: target outputs cached (\(prompts.count) prompts)") }) {
            try calibrator.transcripts(prompts: prompts, tokens: options.calibrationTokens, progress: progress)
        }
        var profiles: [AcceptanceProfile] = []
        for choice in options.drafters {
            let key: [String]
            switch choice {
            case .none: continue
            case .ngram: key = transcriptKey + ["ngram"]
            case .model(let id): key = transcriptKey + [TuneCache.fileIdentity(main.drafts[id]!.path), "vocabulary=\(ModelDrafter.defaultVocabulary)"]
            }
            let acceptance: AcceptanceProfile = try cache.value(kind: "acceptance", key: key, fresh: options.fresh,
                                                                hit: { progress("calibration: \(choice) acceptance cached") }) {
                progress("calibration: measuring \(choice) acceptance")
                switch choice {
                case .model(let id): return try calibrator.calibrate(draft: main.drafts[id]!, id: id, transcripts: transcripts)
                default: return try calibrator.calibrate(drafter: NGramDrafter(), choice: .ngram, transcripts: transcripts)
                }
            }
            let row = acceptance.acceptance().first ?? []
            progress("calibration: \(choice): P(rank k) at depth 1 = [" + row.prefix(4).map { String(format: "%.2f", $0) }.joined(separator: " ") + "]")
            profiles.append(acceptance)
        }

        // 4. Search, per unit count.
        var candidates: [Candidate] = []
        var plains: [Int: Candidate] = [:]
        for setting in settings {
            let inputs = profiles.map { Planner.DrafterInput(acceptance: $0, cost: $0.drafter.modelID.flatMap { setting.draftCosts[$0] }) }
            let planner = Planner(profile: setting.profile, target: setting.targetCost, drafters: inputs, maxWidth: options.maxWidth)
            plains[setting.threads] = planner.plain.withThreads(setting.threads)
            candidates += planner.candidates().map { $0.withThreads(setting.threads) }
        }
        candidates.sort { $0.predictedTokensPerSecond > $1.predictedTokensPerSecond }

        // 5. Measure plain decoding (every unit count) and the most promising candidates for real.
        let measureIDs = try Array(prompts.prefix(max(1, options.measurePrompts))).map { prompt in
            main.target.tokenize(main.target.chatTemplate != nil ? try main.target.chatPrompt(prompt) : prompt,
                                 addSpecial: true, parseSpecial: true)
        }
        var order: [Int] = candidates.indices.filter { candidates[$0].drafter == .none }
        for i in candidates.indices where candidates[i].drafter != .none && order.count < settings.count + 3 { order.append(i) }
        for choice in options.drafters where choice != .none {
            if let best = candidates.firstIndex(where: { $0.drafter == choice }), !order.contains(best) { order.append(best) }
        }
        order = Array(order.prefix(options.maxMeasured + settings.count))
        let started = ContinuousClock.now
        for (n, i) in order.enumerated() {
            if n > settings.count && (ContinuousClock.now - started).seconds > options.budgetSeconds {
                progress("budget of \(Int(options.budgetSeconds)) s spent: \(order.count - n) candidate(s) left unmeasured")
                break
            }
            let c = candidates[i]
            guard let setting = settings.first(where: { $0.threads == c.threads }) else { continue }
            let plan = executionPlan(c, threads: setting.threads, profile: setting.profile)
            let decoder = try PlannedDecoder(plan: plan, model: setting.target,
                                             draftModel: c.drafter.modelID.flatMap { setting.drafts[$0] }, store: store)
            var tokens = 0
            var seconds = 0.0
            for ids in measureIDs {
                let (result, _) = try decoder.generate(promptIDs: ids, cache: setting.target.makeCache(), maxTokens: options.measureTokens)
                tokens += result.ids.count
                seconds += result.generationSeconds
            }
            candidates[i].measuredTokensPerSecond = seconds > 0 ? Double(tokens) / seconds : 0
            if let t = c.threads, c.drafter == .none { plains[t]?.measuredTokensPerSecond = candidates[i].measuredTokensPerSecond }
            progress(String(format: "measured %d unit(s) %@ %@: %.1f tokens/s (predicted %.1f)", c.threads ?? 0, c.drafter.description,
                            c.treeDescription, candidates[i].measuredTokensPerSecond ?? 0, c.predictedTokensPerSecond))
        }

        // Plain decoding's measured/predicted ratio per unit count anchors every prediction to the machine's speed today.
        for i in candidates.indices {
            if let plain = plains[candidates[i].threads ?? main.threads], let m = plain.measuredTokensPerSecond, plain.predictedTokensPerSecond > 0 {
                candidates[i].loadFactor = m / plain.predictedTokensPerSecond
            }
        }
        plains = plains.mapValues { p in
            var p = p
            if let m = p.measuredTokensPerSecond { p.loadFactor = m / p.predictedTokensPerSecond }
            return p
        }

        // 6. The fastest measured candidate wins; plain decoding on all units is the reference.
        let measured = candidates.filter { $0.measuredTokensPerSecond != nil }
        let plain = plains[main.threads]!
        let winner = measured.max { ($0.measuredTokensPerSecond ?? 0) < ($1.measuredTokensPerSecond ?? 0) } ?? plain
        let winning = settings.first { $0.threads == winner.threads } ?? main
        let plan = executionPlan(winner, threads: winning.threads, profile: winning.profile)
        return Report(plan: plan, winner: winner, plain: plain, candidates: candidates,
                      reason: Self.reason(winner: winner, plain: plain, measured: measured, target: winning.targetCost,
                                          profile: winning.profile),
                      profile: main.profile,
                      costs: settings.flatMap { s in
                          ([s.targetCost] + s.draftCosts.keys.sorted().map { s.draftCosts[$0]! }).map {
                              FittedCost(cost: $0, threads: s.threads, errors: $0.fitErrors(profile: s.profile))
                          }
                      },
                      acceptance: profiles)
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
            return String(format: "plain decoding on %d unit(s) won at %.1f tokens/s: the best speculative candidate (%@, tree %@) measured %.1f; it accepts %.2f drafted tokens per round, but verifying %.1f rows costs %.1fx a single-token step and drafting adds %.0f ms",
                          winner.threads ?? 0, winner.measuredTokensPerSecond ?? plainRate, best.drafter.description, best.treeDescription, best.measuredTokensPerSecond ?? 0,
                          best.expectedAccepted, best.verificationWidth, verifyRatio, best.draftSeconds * 1e3)
        }
        return String(format: "%d unit(s), %@ with tree %@ won at %.1f tokens/s, %.2fx plain decoding (%.1f): %.2f tokens per round for %.0f ms verifying %.1f rows (%.1fx a single step) plus %.0f ms drafting",
                      winner.threads ?? 0, winner.drafter.description, winner.treeDescription, winner.measuredTokensPerSecond ?? 0,
                      (winner.measuredTokensPerSecond ?? 0) / max(plainRate, 1e-9), plainRate, winner.expectedAccepted + 1,
                      winner.verifySeconds * 1e3, winner.verificationWidth, winner.verifySeconds / single, winner.draftSeconds * 1e3)
    }
}

/// A forward cost with the unit count it was measured on and the fitted model's relative error per width.
public struct FittedCost: Sendable {
    public var cost: ForwardCost
    public var threads: Int
    public var errors: [(width: Int, error: Double)]
}

extension DrafterChoice {
    /// The draft model's id, when the drafter is a model.
    public var modelID: String? {
        if case .model(let id) = self { return id }
        return nil
    }
}
