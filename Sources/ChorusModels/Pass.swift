import ChorusKernels
import ChorusRuntime

/// Rows `rows` of `batch`, whose keys and values go to `cache`: one sequence's share of a forward
/// pass (continuous batching puts several in one pass; a pipeline micro-batch is a row range).
public struct Segment: @unchecked Sendable {
    public var batch: Batch
    public var cache: KVCache
    /// The batch rows this pass runs (all by default).
    public var rows: Range<Int>

    public init(_ batch: Batch, cache: KVCache, rows: Range<Int>? = nil) {
        self.batch = batch
        self.cache = cache
        self.rows = rows ?? 0..<batch.count
    }
}

/// One forward pass of at most `workspace.rows` rows in progress: the rows of its segments in
/// turn, run in a workspace under an execution context, one step at a time.
///
/// A step is one phase of one residual block (`ResidualBlock.phases`), followed after a block's
/// last phase by the fused residual add and next input norm. Starting a pass embeds the tokens (or
/// takes the previous pipeline stage's hidden states) and normalises the first block's input;
/// `finish()` runs what is left and the output head. Passes in different workspaces can be
/// stepped alternately (a distributed executor interleaving micro-batches block by block); rows
/// keep their bits however passes are stepped.
public final class Pass {
    let transformer: Transformer
    let context: ExecutionContext
    let workspace: Workspace
    let segments: [Segment]
    /// Pass row t comes from segment `origins[t].segment`, batch row `origins[t].row`.
    let origins: [(segment: Int, row: Int)]
    /// Rows in the pass.
    let rows: Int
    /// Each tree segment's rows of ancestors (nil for causal segments).
    let trees: [TreeRows?]
    let hasTrees: Bool
    /// Pass rows whose logits are wanted, and where the first goes in the workspace's logits.
    let logitRows: [Int]
    let logitOffset: Int
    /// The kernel order of the current block's products (`RoundingPolicy.product`).
    private(set) var rounding: ProductRounding
    /// (block, phase) of every step, in order (none for a pass without rows).
    private let steps: [(block: Int, phase: Int)]
    /// Steps run so far.
    public private(set) var completedSteps = 0
    private var finished = false

    /// Steps in the pass.
    public var stepCount: Int { steps.count }

    init(_ transformer: Transformer, segments: [Segment], logitRows: [Int], logitOffset: Int, input: UnsafePointer<Float>?,
         in workspace: Workspace, context: ExecutionContext) {
        self.transformer = transformer
        self.context = context
        self.workspace = workspace
        self.segments = segments
        var origins: [(segment: Int, row: Int)] = []
        for (i, segment) in segments.enumerated() { origins += segment.rows.map { (i, $0) } }
        self.origins = origins
        rows = origins.count
        trees = segments.map { segment -> TreeRows? in
            if case .tree(let parents) = segment.batch.visibility { return TreeRows(parents: parents) }
            return nil
        }
        hasTrees = trees.contains { $0 != nil }
        self.logitRows = logitRows
        self.logitOffset = logitOffset
        rounding = context.rounding.product(rows: origins.count)
        steps = rows == 0 ? [] : transformer.blocks.steps
        workspace.attention.ensure(threads: context.pool.threadCount)

        time(.embedding) {
            if let input {
                workspace.x.update(from: input, count: rows * workspace.width)
            } else {
                transformer.blocks.embedding!.forward(self)
            }
        }
        time(.norm) { fuse(after: nil, before: transformer.blocks.residual.first) }
    }

    /// Runs the next `count` steps (at most those left).
    public func step(_ count: Int = 1) {
        let blocks = transformer.blocks.residual
        for _ in 0..<min(count, steps.count - completedSteps) {
            let (i, phase) = steps[completedSteps]
            let block = blocks[i]
            rounding = roundingOf(block: i)
            block.forward(phase: phase, self)
            completedSteps += 1
            guard phase + 1 == block.phases else { continue }
            let next = i + 1 < blocks.count ? blocks[i + 1] : nil
            time(.norm) { fuse(after: block, before: next) }
            if next?.layer != block.layer { tap("l_out-\(block.layer)", workspace.x, count: rows * workspace.width) }
        }
    }

    /// Runs the steps left and the output head (on a model part that has it): the logits of
    /// `logitRows`, valid until the next pass in this workspace. Causal segments commit their rows
    /// (`cache.count`); token trees leave committing to the caller.
    public func finish() -> Logits {
        step(steps.count - completedSteps)
        if !finished {
            finished = true
            if let head = transformer.blocks.head, !logitRows.isEmpty { head.forward(self) }
            for segment in segments where segment.batch.visibility == .causal {
                segment.cache.count = segment.batch.firstSlot + segment.rows.upperBound
            }
        }
        return Logits(base: workspace.logits, rows: logitRows.count, vocabularySize: transformer.config.vocabularySize)
    }

    /// llama.cpp keeps only the rows whose logits are wanted through the last layer's feed-forward:
    /// when they are the pass's last rows, the model's last block rounds as a product of those rows.
    private func roundingOf(block i: Int) -> ProductRounding {
        let last = i + 1 == transformer.blocks.residual.count && transformer.blocks.head != nil
        guard last, !logitRows.isEmpty, logitRows == Array(rows - logitRows.count..<rows) else {
            return context.rounding.product(rows: rows)
        }
        return context.rounding.product(rows: rows, kept: logitRows.count)
    }

    /// One region over rows: `after`'s residual add, then `before`'s input norm.
    private func fuse(after: (any ResidualBlock)?, before: (any ResidualBlock)?) {
        let add = after?.norms, normalize = before?.norms, w = workspace
        run(rows, op: .rowwise, grain: 4) { range, _ in
            for t in range {
                add?.addResidual(row: t, in: w)
                normalize?.normalizeInput(row: t, in: w)
            }
        }
    }

    // MARK: - what blocks use

    /// `body` on each compute unit's share of `count` rows of an operator class, under the plan.
    @inline(__always)
    func run(_ count: Int, op: OperatorClass, grain: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        context.pool.run(count, under: context.plan, op: op, grain: grain, body)
    }

    /// Several products of the same activations in one region (`Linear.multiply`), in the current
    /// rounding; `source` (the same activations in f32, [rows][columns]) feeds their LoRA adapters.
    func multiply(_ parts: [(Linear, UnsafeMutablePointer<Float>)], _ x: QuantizedActivations, source: UnsafePointer<Float>? = nil) {
        Linear.multiply(parts, x, xRows: rows, rounding: rounding, on: context.pool, plan: context.plan)
        addLoRA(parts, source: source)
    }

    /// y += s B (A x) for the adapted products among `parts` (their outputs [rows][product rows]),
    /// x being `source`: A x for every row in one region, B's rows in another.
    func addLoRA(_ parts: [(Linear, UnsafeMutablePointer<Float>)], source: UnsafePointer<Float>?) {
        let adapted = parts.filter { $0.0.lora != nil }
        guard !adapted.isEmpty else { return }
        guard let source else { preconditionFailure("a product with a LoRA adapter needs its f32 input") }
        let downs = loraDowns(adapted.map(\.0), source: source).map { $0! }
        let n = rows
        time(.lora) {
            run(adapted.reduce(0) { $0 + $1.0.rows }, op: .linear, grain: 16) { range, _ in
                Linear.forEachPiece(of: range, stacking: adapted.map { 0..<$0.0.rows }) { i, outputs in
                    let (linear, y) = adapted[i]
                    linear.loraUp(downs[i], rows: n, into: y, yStride: linear.rows, outputs: outputs)
                }
            }
        }
    }

    /// A x of each adapted product among `linears` for every row of the pass (x: `source`, [rows][columns]),
    /// in the workspace's LoRA section; nil for products without an adapter.
    func loraDowns(_ linears: [Linear], source: UnsafePointer<Float>) -> [UnsafeMutablePointer<Float>?] {
        var offset = 0
        let downs = linears.map { linear -> UnsafeMutablePointer<Float>? in
            guard let lora = linear.lora else { return nil }
            defer { offset += rows * lora.rank }
            return workspace.loraDown + offset
        }
        guard offset > 0 else { return downs }
        time(.lora) {
            run(rows, op: .rowwise, grain: 4) { range, _ in
                for (linear, down) in zip(linears, downs) where down != nil {
                    linear.loraDown(source, xStride: linear.columns, into: down!, tokens: range)
                }
            }
        }
        return downs
    }

    /// `body` timed as operator class `op` when profiling.
    @inline(__always)
    func time(_ op: OperatorKind, _ body: () -> Void) {
        guard let profiler = context.profiler else { return body() }
        let start = profiler.now()
        body()
        profiler.record(op, since: start)
    }

    /// Hands `count` values at `values` to the tap, when there is one.
    @inline(__always)
    func tap(_ name: @autoclosure () -> String, _ values: UnsafePointer<Float>, count: Int) {
        context.tap?(name(), Array(UnsafeBufferPointer(start: values, count: count)))
    }

    /// workspace.projected = W x: the product that returns to the residual stream (attention
    /// output, feed-forward down); `source`: x in f32 for a LoRA adapter. A tensor slice computes its
    /// rows of it and gathers the others'.
    func project(_ w: Linear, _ x: QuantizedActivations, source: UnsafePointer<Float>? = nil) {
        let ws = workspace
        time(.matmul(w.type)) { Linear.multiply([(w, ws.slices?.output ?? ws.projected)], x, xRows: rows, rounding: rounding, on: context.pool,
                                                plan: context.plan) }
        addLoRA([(w, ws.slices?.output ?? ws.projected)], source: source)
        if let slices = ws.slices { gather(slices.output, widths: slices.widths.model, into: ws.projected) }
    }

    /// Makes every slice's rows of one split output whole on every slice: `local` holds this
    /// slice's [rows][widths[slice]] values; `whole` receives [rows][sum of widths], slice i's
    /// columns after those of slices before it. Only copies and an all-gather: no arithmetic, so
    /// the whole rows carry exactly the bits one process computes.
    func gather(_ local: UnsafePointer<Float>, widths: [Int], into whole: UnsafeMutablePointer<Float>) {
        guard let allGather = context.allGather, let s = workspace.slices else {
            preconditionFailure("a tensor-parallel slice needs ExecutionContext.allGather (checked when the pass starts)")
        }
        let n = rows
        let padded = widths.max() ?? 0, mine = widths[transformer.part.tensorSlice], total = widths.reduce(0, +)
        for t in 0..<n { (s.send + t * padded).update(from: local + t * mine, count: mine) }
        allGather(UnsafeBufferPointer(start: s.send, count: n * padded),
                  UnsafeMutableBufferPointer(start: s.receive, count: widths.count * n * padded))
        var offset = 0
        for (i, width) in widths.enumerated() {
            let block = s.receive + i * n * padded
            for t in 0..<n { (whole + t * total + offset).update(from: block + t * padded, count: width) }
            offset += width
        }
    }
}
