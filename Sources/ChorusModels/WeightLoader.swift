import ChorusGGUF
import ChorusKernels

/// Reads the weights of one model part from a GGUF file for the blocks that own them: tensors by
/// name, shapes checked, used in place from the mapped file, and cut to the part's tensor slice.
struct WeightLoader {
    let file: GGUFFile
    /// The whole model's configuration (tensor shapes).
    let whole: ModelConfig
    /// What this part computes (fewer heads and feed-forward rows on a tensor slice).
    let config: ModelConfig
    /// The layers this part holds.
    let layers: Range<Int>
    /// The tensor slice, nil for whole blocks.
    let slice: ModelPart.Slice?
    /// LoRA adapters by the name of the weight they adapt.
    let adapters: [String: LoRA]

    init(file: GGUFFile, whole: ModelConfig, config: ModelConfig, part: ModelPart, slice: ModelPart.Slice?, adapters: [String: LoRA] = [:]) {
        self.file = file
        self.adapters = adapters
        self.whole = whole
        self.config = config
        layers = part.layers ?? 0..<whole.layerCount
        self.slice = slice
    }

    var metadata: GGUFMetadata { file.metadata }

    /// Which output rows of a split tensor a tensor slice keeps (`ModelPart`).
    enum Split {
        /// Rows of the slice's query heads.
        case queryHeads
        /// Rows of the slice's key/value heads.
        case kvHeads
        /// The slice's feed-forward rows.
        case feedForward
        /// The slice's rows of the residual stream's features.
        case modelRows
    }

    /// Rows of a split tensor this part keeps (all for whole blocks).
    func rows(_ split: Split?, of count: Int) -> Range<Int> {
        guard let split, let s = slice else { return 0..<count }
        let hd = whole.headDimension
        switch split {
        case .queryHeads: return s.heads.lowerBound * hd..<s.heads.upperBound * hd
        case .kvHeads: return s.kvHeads.lowerBound * hd..<s.kvHeads.upperBound * hd
        case .feedForward: return s.feedForward
        case .modelRows: return s.modelRows
        }
    }

    func has(_ name: String) -> Bool { file.info(name) != nil }

    /// Matrix `name` of shape [rows][columns]; `products`: it takes part in int8 matrix products
    /// (its type must have a kernel).
    func matrix(_ name: String, rows: Int, columns: Int, products: Bool = true) throws -> WeightMatrix {
        let (info, data) = try file.tensor(name)
        guard info.dimensions.count == 2, info.columns == columns, info.rows == rows else {
            throw ModelError.badTensor(name: name, reason: "shape \(info.dimensions), expected [\(columns), \(rows)]")
        }
        let w = WeightMatrix(name: name, type: info.type, rows: rows, columns: columns, data: data)
        try w.checkReadable()
        if products && !MatMul.supports(info.type) {
            throw ModelError.badTensor(name: name, reason: "tensor type \(info.type) is not supported for matrix products yet")
        }
        return w
    }

    /// The linear map of matrix `name` ([rows][columns] in the whole model) with its LoRA adapter if
    /// there is one, cut to this part's `split` rows.
    func linear(_ name: String, rows: Int, columns: Int, split: Split? = nil) throws -> Linear {
        let lora = adapters[name]
        if let lora, lora.inputs != columns || lora.outputs != rows {
            throw ModelError.badTensor(name: name, reason: "the LoRA adapter is \(lora.outputs) x \(lora.inputs) but the weight is \(rows) x \(columns) (an adapter made for another model?)")
        }
        let whole = Linear(try matrix(name, rows: rows, columns: columns), lora: lora)
        return slice == nil || split == nil ? whole : whole.rows(self.rows(split, of: rows))
    }

    /// Vector `name` of `count` values (dequantised), cut to this part's `split` rows.
    func vector(_ name: String, count: Int, split: Split? = nil) throws -> [Float] {
        let (info, data) = try file.tensor(name)
        guard info.elementCount == count else {
            throw ModelError.badTensor(name: name, reason: "has \(info.elementCount) elements, expected \(count)")
        }
        guard let format = quantFormat(for: info.type), info.type.blockSize == 1 || count % info.type.blockSize == 0 else {
            throw ModelError.badTensor(name: name, reason: "tensor type \(info.type) is not supported")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { format.dequantize(data, into: $0.baseAddress!, count: count) }
        return split == nil ? out : Array(out[rows(split, of: count)])
    }

    /// RMSNorm weight `name` over `count` features (default: the residual stream's).
    func norm(_ name: String, count: Int? = nil) throws -> RMSNorm {
        RMSNorm(weight: try vector(name, count: count ?? whole.embeddingLength), epsilon: config.normEpsilon)
    }
}
