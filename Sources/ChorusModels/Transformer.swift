import ChorusGGUF
import ChorusKernels
import ChorusRuntime

/// Logits of the rows a batch asked for; valid until the next forward pass in the same workspace.
public struct Logits: @unchecked Sendable {
    public let base: UnsafePointer<Float>
    public let rows: Int
    public let vocabularySize: Int

    public func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: base + i * vocabularySize, count: vocabularySize)
    }
}

/// A decoder-only transformer ready to run: the blocks its architecture file composed (weights in
/// place in the mapped file), a default workspace for their activations and a default execution
/// context (thread pool, partition plan, rounding...).
///
/// One forward pass serves prefill, decoding, perplexity and token-tree verification; every operator
/// works on output-row ranges so a row's result is the same whatever else is in the batch (with
/// the default batch-invariant rounding). `with(_:)` gives a view of the same model and workspace
/// running under another context; `startPass` runs a pass in any workspace, block by block.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let file: GGUFFile
    /// How passes run unless told otherwise.
    public let context: ExecutionContext
    /// Most rows one forward pass takes; longer causal runs are cut into chunks of this size.
    public let maxBatch: Int
    /// The part of the model this instance runs (pipeline stage, tensor-parallel slice).
    public let part: ModelPart
    let contextCapacity: Int
    let blocks: ModelBlocks
    /// What each tensor-parallel slice computes of the split outputs (nil for whole blocks).
    let sliceWidths: SliceWidths?
    /// Activations of the passes `forward`, `forward(segments:)` and `forwardStage` run.
    let workspace: Workspace

    /// - Parameters:
    ///   - contextCapacity: the largest KV cache this model will be asked to use.
    ///   - maxBatch: rows per forward pass (prefill chunk / widest verification).
    ///   - part: the blocks and slice to run (`ModelPart.whole` unless the model is split across processes).
    public convenience init(file: GGUFFile, pool: ThreadPool, contextCapacity: Int, maxBatch: Int = 64,
                            part: ModelPart = .whole, adapters: [String: LoRA] = [:]) throws {
        try self.init(file: file, context: ExecutionContext(pool: pool), contextCapacity: contextCapacity, maxBatch: maxBatch,
                      part: part, adapters: adapters)
    }

    /// A model running under `context` by default; `adapters` puts LoRA adapters beside the weights
    /// they name (`blk.N.attn_q.weight` ...), for inference or training.
    public init(file: GGUFFile, context: ExecutionContext, contextCapacity: Int, maxBatch: Int = 64, part: ModelPart = .whole,
                adapters: [String: LoRA] = [:]) throws {
        let architecture = try Architecture(metadata: file.metadata)
        let full = try ModelConfig(metadata: file.metadata)
        guard part.layers.map({ !$0.isEmpty && $0.upperBound <= full.layerCount }) ?? true else {
            throw ModelError.invalidConfig("layers \(part.layers!) are not within the model's \(full.layerCount)")
        }
        let config = try part.slicedConfig(full)
        let loader = WeightLoader(file: file, whole: full, config: config, part: part,
                                  slice: part.tensorSlices > 1 ? try part.slice(of: full) : nil, adapters: adapters)
        let blocks = try architecture.definition.blocks(loader)
        try Self.checkAdapted(adapters, blocks: blocks, layers: loader.layers)
        let widths = part.tensorSlices > 1 ? try SliceWidths(part: part, config: full) : nil
        try context.validate(vocabulary: config.vocabularySize)
        self.config = config
        self.part = part
        self.file = file
        self.maxBatch = max(1, maxBatch)
        self.contextCapacity = contextCapacity
        self.blocks = blocks
        sliceWidths = widths
        self.context = context
        workspace = Workspace(blocks: blocks, config: config, rows: max(1, maxBatch), slices: widths)
    }

    /// Throws unless every adapter for this part's layers sits beside one of its products.
    private static func checkAdapted(_ adapters: [String: LoRA], blocks: ModelBlocks, layers: Range<Int>) throws {
        let adapted = Set(blocks.linears.filter { $0.linear.lora != nil }.map(\.linear.weight.name))
        for name in adapters.keys.sorted() where !adapted.contains(name) {
            let parts = name.split(separator: ".")
            if parts.count > 1, parts[0] == "blk", let layer = Int(parts[1]), !layers.contains(layer) { continue }
            throw ModelError.badTensor(name: name, reason: "a LoRA adapter names it but the model has no such product (an adapter made for another model?)")
        }
    }

    /// `model` under another context, sharing its blocks and workspace.
    private init(_ model: Transformer, context: ExecutionContext) {
        config = model.config
        file = model.file
        maxBatch = model.maxBatch
        part = model.part
        contextCapacity = model.contextCapacity
        blocks = model.blocks
        sliceWidths = model.sliceWidths
        workspace = model.workspace
        self.context = context
    }

    /// This model (same blocks, same workspace) running under `context` by default: how settings
    /// change without touching the model others hold. Passes of the two share the workspace, so
    /// one's logits are valid until the other's next pass, as for one model.
    public func with(_ context: ExecutionContext) throws -> Transformer {
        try context.validate(vocabulary: config.vocabularySize)
        return Transformer(self, context: context)
    }

    /// This model under its default context changed by `change` (`with(_:)`).
    public func with(_ change: (inout ExecutionContext) -> Void) throws -> Transformer {
        var context = self.context
        change(&context)
        return try with(context)
    }

    /// The pool of the default context.
    public var pool: ThreadPool { context.pool }

    /// A KV cache shaped for this model.
    public func makeCache(capacity: Int) -> KVCache {
        let layers = Set(blocks.residual.compactMap { ($0 as? Attention)?.layer }).sorted()
        return KVCache(layers: layers.count, firstLayer: layers.first ?? 0, kvHeads: config.kvHeadCount,
                       headDimension: config.headDimension, capacity: min(capacity, contextCapacity))
    }

    /// A workspace for passes of up to `maxBatch` rows, beside the default one.
    public func makeWorkspace() -> Workspace {
        Workspace(blocks: blocks, config: config, rows: maxBatch, slices: sliceWidths)
    }

    /// Run the batch: write its keys/values into `cache` slots `firstSlot...`, return the logits of
    /// `batch.logitRows`. Causal batches longer than `maxBatch` run in chunks. `cache.count` becomes
    /// `firstSlot + batch.count` for causal batches (tree batches leave committing to the caller).
    public func forward(_ batch: Batch, cache: KVCache) throws -> Logits {
        let v = config.vocabularySize
        try check(batch, rows: 0..<batch.count, cache: cache, tokens: true)
        try checkExchange(context)
        guard isFirstStage && isLastStage else { throw ModelError.invalidConfig("a pipeline stage runs with forwardStage") }
        workspace.ensureLogitRows(max(1, batch.logitRows.count), vocabulary: v)
        guard batch.count > maxBatch else {
            _ = Pass(self, segments: [Segment(batch, cache: cache)], logitRows: batch.logitRows, logitOffset: 0, input: nil,
                     in: workspace, context: context).finish()
            return Logits(base: workspace.logits, rows: batch.logitRows.count, vocabularySize: v)
        }
        guard batch.visibility == .causal else {
            throw ModelError.invalidConfig("a token tree of \(batch.count) nodes exceeds the batch limit \(maxBatch)")
        }
        var written = 0
        for start in stride(from: 0, to: batch.count, by: maxBatch) {
            let rows = start..<min(batch.count, start + maxBatch)
            let wanted = batch.logitRows.filter { rows.contains($0) }
            _ = Pass(self, segments: [Segment(batch, cache: cache, rows: rows)], logitRows: wanted.map { $0 - start },
                     logitOffset: written, input: nil, in: workspace, context: context).finish()
            written += wanted.count
        }
        return Logits(base: workspace.logits, rows: batch.logitRows.count, vocabularySize: v)
    }

    /// Starts a pass over `segments` (together at most `maxBatch` rows, each its own cache) in
    /// `workspace`, run by `Pass.step` and `Pass.finish` (the logits of each segment's logit rows
    /// within its rows, segment after segment). `input`: the previous pipeline stage's hidden
    /// states for the rows ([rows][hiddenWidth]); nil on the first stage.
    public func startPass(_ segments: [Segment], in workspace: Workspace, context: ExecutionContext? = nil,
                          input: UnsafePointer<Float>? = nil) throws -> Pass {
        let context = try context.map { try with($0).context } ?? self.context
        try checkExchange(context)
        let logitRows = try checkSegments(segments, input: input, limit: workspace.rows)
        workspace.ensureLogitRows(max(1, logitRows.count), vocabulary: config.vocabularySize)
        return Pass(self, segments: segments, logitRows: isLastStage ? logitRows : [], logitOffset: 0, input: input,
                    in: workspace, context: context)
    }

    /// Weight bytes one decode step of this part streams from memory (every matrix once, plus one
    /// embedding row).
    public var bytesPerToken: Int {
        blocks.linears.reduce(0) { $0 + $1.linear.weight.byteCount } + (blocks.embedding?.table.rowBytes ?? 0)
    }

    /// Every weight matrix one pass over this part reads, in order, the output head marked.
    public var matrices: [(matrix: WeightMatrix, isOutputHead: Bool)] {
        blocks.linears.map { ($0.linear.weight, $0.isOutputHead) }
    }

    /// Layers this part runs, in the whole model's numbering.
    public var layers: Range<Int> { part.layers ?? 0..<config.layerCount }
}
