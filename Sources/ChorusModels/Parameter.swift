/// One trainable f32 tensor and the gradient accumulated into it: a LoRA factor, or a weight of a test
/// model. Values are row-major; `dimensions` are GGUF-style (innermost first).
public final class Parameter: @unchecked Sendable {
    /// Name, unique within a model (a LoRA factor's GGUF tensor name, e.g. `blk.3.attn_q.weight.lora_a`).
    public let name: String
    /// GGUF dimensions, innermost (columns) first.
    public let dimensions: [Int]
    /// Current values.
    public var values: [Float]
    /// Gradient accumulated since the last `zeroGradient()`; backward passes add into it.
    public var gradient: [Float]

    /// Creates a parameter holding `values` with a zero gradient.
    public init(name: String, dimensions: [Int], values: [Float]) {
        precondition(dimensions.reduce(1, *) == values.count, "\(name): \(values.count) values for dimensions \(dimensions)")
        self.name = name
        self.dimensions = dimensions
        self.values = values
        self.gradient = Array(repeating: 0, count: values.count)
    }

    /// Elements.
    public var count: Int { values.count }

    /// Sets the gradient to zero (the start of an optimiser step's accumulation).
    public func zeroGradient() {
        for i in gradient.indices { gradient[i] = 0 }
    }
}
