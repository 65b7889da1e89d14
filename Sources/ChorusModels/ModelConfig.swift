import ChorusGGUF
import ChorusKernels

/// Hyper-parameters of a decoder-only transformer, read once from GGUF metadata.
///
/// The shared forward pass reads only this struct; an architecture file says how its keys map here
/// and which optional features (biases, extra norms, sliding windows...) it switches on.
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
    public var ropeLayout: RoPE.Layout
    public var ropeDimensions: Int
    public var ropeBase: Float
    /// Per-layer RoPE base for sliding-window (local) layers, where it differs (Gemma 3).
    public var localRopeBase: Float?
    public var ropeFrequencyScale: Float = 1
    /// Q/K/V projections carry biases (Qwen2).
    public var attentionBias = false
    /// Per-head RMSNorm on Q and K before RoPE (Gemma 3).
    public var queryKeyNorm = false
    /// Norms after attention and after the FFN, before the residual add (Gemma 3).
    public var postNorms = false
    public enum Activation: Sendable { case silu, geluTanh }
    public var activation: Activation = .silu
    /// Multiplier on the token embeddings (Gemma: sqrt(d_model)).
    public var embeddingScale: Float = 1
    /// Softmax scale for attention scores; 1/sqrt(headDimension) unless the architecture says otherwise.
    public var attentionScale: Float
    /// Multiplier on the query after RoPE, before attention (Gemma scales Q instead of the scores).
    public var queryScale: Float = 1
    /// Sliding-window size per layer (nil: global attention).
    public var slidingWindow: [Int?]

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
        ropeLayout = .interleaved
        attentionScale = headDimension > 0 ? 1 / Float(headDimension).squareRoot() : 1
        slidingWindow = []
        slidingWindow = Array(repeating: nil, count: max(0, layerCount))
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
        let name = try metadata.string("general.architecture")
        guard let architecture = Architecture(rawValue: name) else { throw ModelError.unsupportedArchitecture(name) }
        switch architecture {
        case .llama: self = try Llama.config(metadata)
        case .qwen2: self = try Qwen2.config(metadata)
        case .gemma3: self = try Gemma3.config(metadata)
        }
        try validate()
    }
}
