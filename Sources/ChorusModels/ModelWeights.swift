import ChorusGGUF
import ChorusKernels

/// Weights of one transformer block, used in place from the mapped file.
public struct LayerWeights: @unchecked Sendable {
    public var attentionNorm: [Float]
    public var query: WeightMatrix
    public var key: WeightMatrix
    public var value: WeightMatrix
    public var output: WeightMatrix
    public var queryBias: [Float]?
    public var keyBias: [Float]?
    public var valueBias: [Float]?
    public var queryNorm: [Float]?
    public var keyNorm: [Float]?
    public var postAttentionNorm: [Float]?
    public var ffnNorm: [Float]
    public var gate: WeightMatrix
    public var up: WeightMatrix
    public var down: WeightMatrix
    public var postFFNNorm: [Float]?
}

/// The whole weight table: GGUF tensor names mapped to typed fields, shapes checked at load.
public struct ModelWeights: @unchecked Sendable {
    public var tokenEmbedding: WeightMatrix
    public var outputNorm: [Float]
    /// The output head (the embedding matrix itself when the model ties them).
    public var output: WeightMatrix
    /// The transformer blocks this process holds: blocks `firstLayer..<firstLayer + layers.count`
    /// (all of them unless the model is split into pipeline stages).
    public var layers: [LayerWeights]
    /// Index in the whole model of `layers[0]`.
    public var firstLayer = 0

    /// Bytes of weights a single decode step streams from memory (all matrices once, plus one
    /// embedding row).
    public var bytesPerToken: Int {
        var total = output.byteCount + tokenEmbedding.rowBytes
        for l in layers {
            total += l.query.byteCount + l.key.byteCount + l.value.byteCount + l.output.byteCount
            total += l.gate.byteCount + l.up.byteCount + l.down.byteCount
        }
        return total
    }

    /// Maps the weights of blocks `layerRange` (all by default); other blocks' pages are never touched.
    init(file: GGUFFile, config c: ModelConfig, layerRange: Range<Int>? = nil) throws {
        func matrix(_ name: String, rows: Int, columns: Int, int8: Bool = true) throws -> WeightMatrix {
            let (info, data) = try file.tensor(name)
            guard info.dimensions.count == 2, info.columns == columns, info.rows == rows else {
                throw ModelError.badTensor(name: name, reason: "shape \(info.dimensions), expected [\(columns), \(rows)]")
            }
            let w = WeightMatrix(name: name, type: info.type, rows: rows, columns: columns, data: data)
            try w.checkReadable()
            if int8 && !MatMul.supports(info.type) {
                throw ModelError.badTensor(name: name, reason: "tensor type \(info.type) is not supported for matrix products yet")
            }
            return w
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let (info, data) = try file.tensor(name)
            guard info.elementCount == count else {
                throw ModelError.badTensor(name: name, reason: "has \(info.elementCount) elements, expected \(count)")
            }
            guard let format = quantFormat(for: info.type), info.type.blockSize == 1 || count % info.type.blockSize == 0 else {
                throw ModelError.badTensor(name: name, reason: "tensor type \(info.type) is not supported")
            }
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { format.dequantize(data, into: $0.baseAddress!, count: count) }
            return out
        }

        let d = c.embeddingLength
        tokenEmbedding = try matrix("token_embd.weight", rows: c.vocabularySize, columns: d, int8: false)
        outputNorm = try vector("output_norm.weight", count: d)
        output = file.info("output.weight") == nil
            ? tokenEmbedding : try matrix("output.weight", rows: c.vocabularySize, columns: d)
        if !MatMul.supports(output.type) {
            throw ModelError.badTensor(name: output.name, reason: "tensor type \(output.type) is not supported for matrix products yet")
        }
        let range = layerRange ?? 0..<c.layerCount
        firstLayer = range.lowerBound
        layers = try range.map { i in
            let p = "blk.\(i)."
            return LayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", count: d),
                query: try matrix(p + "attn_q.weight", rows: c.queryWidth, columns: d),
                key: try matrix(p + "attn_k.weight", rows: c.kvWidth, columns: d),
                value: try matrix(p + "attn_v.weight", rows: c.kvWidth, columns: d),
                output: try matrix(p + "attn_output.weight", rows: d, columns: c.queryWidth),
                queryBias: c.attentionBias ? try vector(p + "attn_q.bias", count: c.queryWidth) : nil,
                keyBias: c.attentionBias ? try vector(p + "attn_k.bias", count: c.kvWidth) : nil,
                valueBias: c.attentionBias ? try vector(p + "attn_v.bias", count: c.kvWidth) : nil,
                queryNorm: c.queryKeyNorm ? try vector(p + "attn_q_norm.weight", count: c.headDimension) : nil,
                keyNorm: c.queryKeyNorm ? try vector(p + "attn_k_norm.weight", count: c.headDimension) : nil,
                postAttentionNorm: c.postNorms ? try vector(p + "post_attention_norm.weight", count: d) : nil,
                ffnNorm: try vector(p + "ffn_norm.weight", count: d),
                gate: try matrix(p + "ffn_gate.weight", rows: c.feedForwardLength, columns: d),
                up: try matrix(p + "ffn_up.weight", rows: c.feedForwardLength, columns: d),
                down: try matrix(p + "ffn_down.weight", rows: d, columns: c.feedForwardLength),
                postFFNNorm: c.postNorms ? try vector(p + "post_ffw_norm.weight", count: d) : nil)
        }
    }
}
