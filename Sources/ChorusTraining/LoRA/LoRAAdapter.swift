import ChorusGGUF
import ChorusKernels
import ChorusModels

/// A LoRA adapter: for some projections of some layers, f32 factors A (rank x in) and B (out x rank), read
/// and written in llama.cpp's adapter GGUF layout, so llama.cpp's `--lora` loads Chorus's adapters and
/// Chorus loads llama.cpp's:
///
/// - metadata `general.architecture` (the base model's; llama.cpp refuses another), `general.type = adapter`,
///   `adapter.type = lora`, `adapter.lora.alpha` (f32), as convert_lora_to_gguf.py writes them;
/// - tensors `blk.N.<name>.weight.lora_a` with GGUF dimensions [in, rank] and `.lora_b` with [rank, out]
///   (PEFT's lora_A / lora_B matrices, row-major), checked as src/llama-adapter.cpp checks them.
///
/// The adapted projection is y = W x + s * B (A x) with s = lora_scale * alpha / rank (lora_scale when alpha
/// is 0), llama.cpp's `get_scale`.
public final class LoRAAdapter: @unchecked Sendable {
    /// The two factors adapting one base tensor.
    public struct Pair: Sendable {
        public let layer: Int
        public let target: LoRATarget
        /// A: GGUF dimensions [inputs, rank] (rank rows of `inputs` values).
        public let a: Parameter
        /// B: GGUF dimensions [rank, outputs] (`outputs` rows of `rank` values).
        public let b: Parameter

        public var rank: Int { a.dimensions[1] }
        public var inputs: Int { a.dimensions[0] }
        public var outputs: Int { b.dimensions[1] }
        /// The adapted base tensor's name, `blk.N.<name>.weight`.
        public var baseName: String { LoRAAdapter.baseName(layer: layer, target: target) }
    }

    /// The base model's `general.architecture`.
    public let architecture: String
    /// `adapter.lora.alpha`.
    public let alpha: Float
    /// Factor pairs by layer, then target in `LoRATarget.allCases` order.
    public let pairs: [Pair]
    private let index: [String: Int]

    public init(architecture: String, alpha: Float, pairs: [Pair]) {
        self.architecture = architecture
        self.alpha = alpha
        self.pairs = pairs.sorted { ($0.layer, $0.target.index) < ($1.layer, $1.target.index) }
        var index: [String: Int] = [:]
        for (i, pair) in self.pairs.enumerated() { index[pair.baseName] = i }
        self.index = index
    }

    /// A fresh adapter for `model`: every configured target of every layer, shaped from the base tensors.
    public convenience init(model: GGUFFile, configuration: LoRAConfiguration, initialisation: LoRAInitialisation) throws {
        guard let architecture = model.architecture else { throw TrainingError.invalidAdapter("the model has no general.architecture") }
        let layers = try model.metadata.int("\(architecture).block_count")
        var pairs: [Pair] = []
        for layer in 0..<layers {
            for target in configuration.targets {
                let name = Self.baseName(layer: layer, target: target)
                guard let info = model.info(name), info.dimensions.count == 2 else {
                    throw TrainingError.invalidAdapter("the model has no 2-D tensor '\(name)' for LoRA target '\(target.rawValue)' (drop it from --targets)")
                }
                let inputs = info.dimensions[0], outputs = info.dimensions[1], r = configuration.rank
                let a = initialisation.values(layer: layer, target: target, isB: false, rank: r, inputs: inputs, outputs: outputs)
                let b = initialisation.values(layer: layer, target: target, isB: true, rank: r, inputs: inputs, outputs: outputs)
                pairs.append(Pair(layer: layer, target: target,
                                  a: Parameter(name: name + ".lora_a", dimensions: [inputs, r], values: a),
                                  b: Parameter(name: name + ".lora_b", dimensions: [r, outputs], values: b)))
            }
        }
        self.init(architecture: architecture, alpha: configuration.alpha, pairs: pairs)
    }

    public static func baseName(layer: Int, target: LoRATarget) -> String { "blk.\(layer).\(target.tensorName).weight" }

    /// The pair adapting `target` of `layer`, if the adapter has one.
    public func pair(layer: Int, target: LoRATarget) -> Pair? {
        index[Self.baseName(layer: layer, target: target)].map { pairs[$0] }
    }

    /// Every factor, A then B per pair, in file order.
    public var parameters: [Parameter] { pairs.flatMap { [$0.a, $0.b] } }

    /// The adapter as the model's products take it (`Transformer(adapters:)`): each pair in `layers`
    /// (all by default) under the name of the weight it adapts, sharing this adapter's parameters, so
    /// the model trains them in place; `loraScale` multiplies the scale (llama.cpp's `--lora-scaled`).
    public func adapters(layers: Range<Int>? = nil, loraScale: Float = 1) -> [String: LoRA] {
        var out: [String: LoRA] = [:]
        for pair in pairs where layers?.contains(pair.layer) ?? true {
            out[pair.baseName] = LoRA(a: pair.a, b: pair.b, scale: scale(of: pair, loraScale: loraScale))
        }
        return out
    }

    /// s = loraScale * alpha / rank (loraScale alone when alpha is 0), as llama.cpp.
    public func scale(of pair: Pair, loraScale: Float = 1) -> Float {
        alpha == 0 ? loraScale : loraScale * alpha / Float(pair.rank)
    }

    // MARK: - Files

    /// The adapter as GGUF bytes (f32 tensors).
    public func serialised() -> [UInt8] {
        var metadata = GGUFMetadata()
        metadata["general.architecture"] = .string(architecture)
        metadata["general.type"] = .string("adapter")
        metadata["adapter.type"] = .string("lora")
        metadata["adapter.lora.alpha"] = .float32(alpha)
        var writer = GGUFWriter(metadata: metadata)
        for pair in pairs {
            writer.add(pair.a.name, dimensions: pair.a.dimensions, floats: pair.a.values)
            writer.add(pair.b.name, dimensions: pair.b.dimensions, floats: pair.b.values)
        }
        return writer.serialise()
    }

    /// Writes the adapter to `path` atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(serialised(), to: path)
    }

    /// Reads an adapter file (f32, f16, bf16 or any quantisation Chorus reads), checking its layout; with
    /// `model`, also that it fits the model (`validate(against:)`).
    public static func load(path: String, model: GGUFFile? = nil) throws -> LoRAAdapter {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch {
            throw TrainingError.invalidAdapter("cannot read adapter '\(path)': \(error)")
        }
        let adapter = try LoRAAdapter(file: file)
        if let model { try adapter.validate(against: model) }
        return adapter
    }

    /// Parses an opened adapter file.
    public convenience init(file: GGUFFile) throws {
        let path = file.path
        func fail(_ message: String) -> TrainingError { .invalidAdapter("adapter '\(path)': \(message)") }
        let type = file.metadata["general.type"]?.stringValue
        guard type == "adapter" else { throw fail("general.type is \(type.map { "'\($0)'" } ?? "missing"), expected 'adapter' (is this a model, not an adapter?)") }
        let adapterType = file.metadata["adapter.type"]?.stringValue
        guard adapterType == "lora" else { throw fail("adapter.type is \(adapterType.map { "'\($0)'" } ?? "missing"), expected 'lora'") }
        guard let architecture = file.architecture else { throw fail("general.architecture is missing") }
        let alpha = Float(file.metadata["adapter.lora.alpha"]?.doubleValue ?? 0)
        var halves: [String: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
        for info in file.tensors {
            if info.name.hasSuffix(".lora_a") {
                halves[String(info.name.dropLast(7)), default: (nil, nil)].a = info
            } else if info.name.hasSuffix(".lora_b") {
                halves[String(info.name.dropLast(7)), default: (nil, nil)].b = info
            } else if info.name.hasSuffix("_norm.weight") {
                continue  // llama.cpp ignores norm tensors in adapters too
            } else {
                throw fail("tensor '\(info.name)' has an unexpected suffix (expected .lora_a or .lora_b)")
            }
        }
        var pairs: [Pair] = []
        for (base, half) in halves {
            guard let a = half.a, let b = half.b else { throw fail("the LoRA pair for '\(base)' is missing its \(half.a == nil ? "lora_a" : "lora_b")") }
            guard let (layer, target) = Self.parseBaseName(base) else {
                throw fail("'\(base)' is not a projection Chorus adapts (blk.N.attn_q/attn_k/attn_v/attn_output/ffn_gate/ffn_up/ffn_down.weight)")
            }
            guard a.dimensions.count == 2, b.dimensions.count == 2 else { throw fail("the factors of '\(base)' are not matrices") }
            guard a.dimensions[1] == b.dimensions[0] else {
                throw fail("lora_a of '\(base)' is not transposed (rank \(a.dimensions[1]) vs lora_b's \(b.dimensions[0]))")
            }
            pairs.append(Pair(layer: layer, target: target,
                              a: Parameter(name: a.name, dimensions: a.dimensions, values: try Self.floats(file, a)),
                              b: Parameter(name: b.name, dimensions: b.dimensions, values: try Self.floats(file, b))))
        }
        guard !pairs.isEmpty else { throw fail("it has no LoRA tensors") }
        self.init(architecture: architecture, alpha: alpha, pairs: pairs)
    }

    /// Checks that the adapter fits `model`: same architecture, every adapted tensor present with
    /// [in, out] = [lora_a's in, lora_b's out] (llama.cpp's checks, with their hints).
    public func validate(against model: GGUFFile) throws {
        let modelArchitecture = model.architecture ?? "?"
        guard modelArchitecture == architecture else {
            throw TrainingError.invalidAdapter("the adapter is for architecture '\(architecture)' but the model is '\(modelArchitecture)'")
        }
        for pair in pairs {
            guard let info = model.info(pair.baseName), info.dimensions.count == 2 else {
                throw TrainingError.invalidAdapter("the adapter's tensor '\(pair.baseName)' does not exist in the model (maybe another base model?)")
            }
            guard info.dimensions[0] == pair.inputs, info.dimensions[1] == pair.outputs else {
                throw TrainingError.invalidAdapter(
                    "the adapter's '\(pair.baseName)' is \(pair.outputs) x \(pair.inputs) but the model's is \(info.dimensions[1]) x \(info.dimensions[0]) (an adapter made for another model?)")
            }
        }
    }

    static func parseBaseName(_ name: String) -> (Int, LoRATarget)? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0, parts[3] == "weight",
              let target = LoRATarget(tensorName: String(parts[2])) else { return nil }
        return (layer, target)
    }

    static func floats(_ file: GGUFFile, _ info: GGUFTensorInfo) throws -> [Float] {
        let matrix = WeightMatrix(name: info.name, type: info.type, rows: info.rows, columns: info.columns, data: file.data(for: info))
        do { try matrix.checkReadable() } catch {
            throw TrainingError.invalidAdapter("adapter tensor '\(info.name)' has type \(info.type), which Chorus cannot read")
        }
        var out = [Float](repeating: 0, count: info.elementCount)
        out.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<info.rows { matrix.dequantizeRow(r, into: buffer.baseAddress! + r * info.columns) }
        }
        return out
    }
}
