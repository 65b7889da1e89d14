import ChorusKernels

/// The activations of forward passes over one model, for up to `rows` rows: every buffer a pass
/// writes, allocated once (llama2.c's RunState), so the forward allocates nothing. Separate from
/// the model: a model can run passes in several workspaces (two micro-batches in flight, stepped
/// block by block), each pass's logits and hidden states living in its own.
///
/// Sections: the residual stream shared by every block, then each block kind's scratch sized for
/// the largest block of that kind (a new kind of block adds its own section here).
public final class Workspace: @unchecked Sendable {
    /// Rows one pass can hold.
    public let rows: Int
    /// Features of the residual stream.
    let width: Int
    /// residual stream [rows][width]
    let x: UnsafeMutablePointer<Float>
    /// normalised input of the current block [rows][width]
    let normed: UnsafeMutablePointer<Float>
    /// the current block's output before the residual add [rows][width]
    let projected: UnsafeMutablePointer<Float>
    /// `normed` quantised in the formats every consumer of the residual stream needs
    let input: QuantizedActivations
    let attention: AttentionScratch
    let feedForward: FeedForwardScratch
    /// Tensor-parallel exchange (nil for a whole model).
    let slices: SliceScratch?
    /// A x of a block's LoRA-adapted products [rows][sum of the block's ranks] (`Pass.loraDowns`).
    let loraDown: UnsafeMutablePointer<Float>
    /// logits [rows][vocabulary], grown on demand
    private(set) var logits: UnsafeMutablePointer<Float>
    private var logitCapacity: Int
    private var allocations: [UnsafeMutablePointer<Float>] = []

    init(blocks: ModelBlocks, config c: ModelConfig, rows: Int, slices: SliceWidths?) {
        self.rows = rows
        width = c.embeddingLength
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> { Workspace.zeroed(n) }
        x = buffer(rows * width)
        normed = buffer(rows * width)
        projected = buffer(rows * width)
        let attentions = blocks.residual.compactMap { $0 as? Attention }
        let feedForwards = blocks.residual.compactMap { $0 as? FeedForward }
        let readers = attentions.flatMap { [$0.query, $0.key, $0.value] } + feedForwards.flatMap { [$0.gate, $0.up] }
            + (blocks.head.map { [$0.output] } ?? [])
        input = QuantizedActivations(maxRows: rows, columns: width, formats: MatMul.activationFormats(for: readers.map(\.type)))
        attention = AttentionScratch(attentions, rows: rows, wholeWidth: slices?.attention.reduce(0, +))
        feedForward = FeedForwardScratch(feedForwards, rows: rows, wholeWidth: slices?.hidden.reduce(0, +))
        self.slices = slices.map { SliceScratch($0, rows: rows, width: c.embeddingLength) }
        logitCapacity = 1
        logits = buffer(c.vocabularySize)
        let loraWidth = blocks.residual.map { $0.linears.reduce(0) { $0 + ($1.lora?.rank ?? 0) } }.max() ?? 0
        loraDown = buffer(rows * loraWidth)
        allocations = [x, normed, projected, loraDown]
    }

    /// The residual stream after a pass: [rows][width] hidden states (a pipeline stage's output).
    public var hiddenStates: UnsafePointer<Float> { UnsafePointer(x) }

    static func zeroed(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
        p.initialize(repeating: 0, count: max(1, n))
        return p
    }

    func ensureLogitRows(_ count: Int, vocabulary: Int) {
        guard count > logitCapacity else { return }
        logits.deallocate()
        logits = .allocate(capacity: count * vocabulary)
        logitCapacity = count
    }

    deinit {
        for p in allocations { p.deallocate() }
        logits.deallocate()
    }
}

/// Buffers of the tensor-parallel exchange: a slice's rows padded to the widest slice's width
/// [rows][widest], every slice's padded rows [slices][rows][widest], a product's own output rows
/// [rows][width], the gathered attention or hidden rows [rows][max(whole attention, whole hidden)].
final class SliceScratch: @unchecked Sendable {
    let widths: SliceWidths
    let send: UnsafeMutablePointer<Float>
    let receive: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let gathered: UnsafeMutablePointer<Float>

    init(_ widths: SliceWidths, rows: Int, width: Int) {
        self.widths = widths
        send = Workspace.zeroed(rows * widths.widest)
        receive = Workspace.zeroed(widths.count * rows * widths.widest)
        output = Workspace.zeroed(rows * width)
        gathered = Workspace.zeroed(rows * max(widths.attention.reduce(0, +), widths.hidden.reduce(0, +)))
    }

    deinit {
        for p in [send, receive, output, gathered] { p.deallocate() }
    }
}
