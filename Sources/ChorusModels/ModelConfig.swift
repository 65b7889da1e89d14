import ChorusGGUF
import ChorusKernels

/// Hyper-parameters of a decoder-only transformer, read once from GGUF metadata.
///
/// The numbers every architecture shares; an architecture file (Architectures/) reads them with its
/// own defaults and composes its blocks, stating its differences (biases, extra norms, sliding
/// windows...) as the blocks' options.
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    public var layerCount: Int
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var vocabularySize: Int
    public var trainedContextLength: Int
    public var normEpsilon: Float
    public var ropeDimensions: Int
    public var ropeBase: Float
    /// Position scale of linear RoPE scaling (1 / `rope.scaling.factor`).
    public var ropeFrequencyScale: Float = 1

    public var gqaGroup: Int { headCount / kvHeadCount }
    public var queryWidth: Int { headCount * headDimension }
    public var kvWidth: Int { kvHeadCount * headDimension }

    /// Reads the keys common to every architecture (`<arch>.block_count` etc.).
    init(common metadata: GGUFMetadata, architecture: Architecture) throws {
        let a = architecture.rawValue
        self.architecture = architecture
        layerCount = try metadata.int("\(a).block_count")
        embeddingLength = try metadata.int("\(a).embedding_length")
        feedForwardLength = try metadata.int("\(a).feed_forward_length")
        headCount = try metadata.int("\(a).attention.head_count")
        kvHeadCount = try metadata.int("\(a).attention.head_count_kv", default: headCount)
        headDimension = try metadata.int("\(a).attention.key_length", default: headCount > 0 ? embeddingLength / headCount : 0)
        trainedContextLength = try metadata.int("\(a).context_length", default: 2048)
        normEpsilon = try metadata.float("\(a).attention.layer_norm_rms_epsilon", default: 1e-5)
        ropeDimensions = try metadata.int("\(a).rope.dimension_count", default: headDimension)
        ropeBase = try metadata.float("\(a).rope.freq_base", default: 10_000)
        if let scale = metadata["\(a).rope.scaling.factor"]?.doubleValue, scale > 0,
           (metadata["\(a).rope.scaling.type"]?.stringValue ?? "linear") == "linear" {
            ropeFrequencyScale = Float(1 / scale)
        }
        let tokens = metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
        vocabularySize = try metadata.int("\(a).vocab_size", default: tokens ?? 0)
    }

    /// Checks that the numbers describe a model the forward pass can run.
    func validate() throws {
        func require(_ ok: Bool, _ message: String) throws { if !ok { throw ModelError.invalidConfig(message) } }
        try require(layerCount > 0 && layerCount <= 1024, "block_count \(layerCount)")
        try require(embeddingLength > 0 && embeddingLength % 32 == 0, "embedding_length \(embeddingLength) must be a positive multiple of 32")
        try require(feedForwardLength > 0 && feedForwardLength % 32 == 0, "feed_forward_length \(feedForwardLength) must be a positive multiple of 32")
        try require(headCount > 0 && kvHeadCount > 0 && headCount % kvHeadCount == 0, "head counts \(headCount)/\(kvHeadCount)")
        try require(headDimension > 0 && headDimension % 2 == 0 && headDimension <= 1024, "head dimension \(headDimension)")
        try require(ropeDimensions > 0 && ropeDimensions <= headDimension && ropeDimensions % 2 == 0, "rope dimension \(ropeDimensions)")
        try require(vocabularySize > 0, "vocabulary size \(vocabularySize)")
        try require(queryWidth % 32 == 0, "query width \(queryWidth) must be a multiple of 32")
    }

    /// Reads the config for whatever architecture the file declares.
    public init(metadata: GGUFMetadata) throws {
        self = try Architecture(metadata: metadata).definition.config(metadata)
        try validate()
    }

    /// The RoPE of global-attention layers in `layout`.
    func rope(layout: RoPE.Layout) -> RoPE {
        RoPE(layout: layout, dimensions: ropeDimensions, base: ropeBase, frequencyScale: ropeFrequencyScale)
    }
}
