/// A linear projection of a transformer layer that a LoRA adapter can target, named as the CLI names it
/// (`--targets q,k,v,o,gate,up,down`); the order of `allCases` is part of the initialisation's stream
/// numbering (see `LoRAInitialisation`).
public enum LoRATarget: String, CaseIterable, Codable, Sendable, Hashable {
    case q, k, v, o, gate, up, down

    /// The base tensor's GGUF name within a layer (`blk.N.<name>.weight`), llama.cpp's names.
    public var tensorName: String {
        switch self {
        case .q: "attn_q"
        case .k: "attn_k"
        case .v: "attn_v"
        case .o: "attn_output"
        case .gate: "ffn_gate"
        case .up: "ffn_up"
        case .down: "ffn_down"
        }
    }

    /// Position in `allCases` (q = 0 ... down = 6).
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    /// The target whose GGUF tensor is `name` (`attn_q` ...), if any.
    public init?(tensorName name: String) {
        guard let target = Self.allCases.first(where: { $0.tensorName == name }) else { return nil }
        self = target
    }

    /// Parses `q,k,v,o,gate,up,down` (any subset, any order, no repeats); `all` means every target.
    public static func parseList(_ text: String) throws -> [LoRATarget] {
        let trimmed = text.filter { !$0.isWhitespace }
        if trimmed == "all" { return allCases }
        var out: [LoRATarget] = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            guard let target = LoRATarget(rawValue: String(item)) ?? LoRATarget(tensorName: String(item)) else {
                throw TrainingError.invalidOption("unknown LoRA target '\(item)' in --targets (use q,k,v,o,gate,up,down)")
            }
            guard !out.contains(target) else { throw TrainingError.invalidOption("LoRA target '\(item)' is listed twice in --targets") }
            out.append(target)
        }
        guard !out.isEmpty else { throw TrainingError.invalidOption("--targets is empty (use e.g. q,k,v,o,gate,up,down)") }
        return out.sorted { $0.index < $1.index }
    }
}

/// The shape of a LoRA adapter: rank r, alpha, and which projections of every layer it adapts. The
/// adapted projection computes y = W x + (alpha / r) * B (A x), with A of r x in and B of out x r
/// (llama.cpp's `lora_a` and `lora_b`, and its scale `alpha / rank`).
public struct LoRAConfiguration: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [LoRATarget]

    public init(rank: Int = 8, alpha: Float = 16, targets: [LoRATarget] = LoRATarget.allCases) throws {
        guard rank >= 1, rank <= 4096 else { throw TrainingError.invalidOption("--lora-rank must be between 1 and 4096 (got \(rank))") }
        guard alpha.isFinite, alpha > 0 else { throw TrainingError.invalidOption("--lora-alpha must be a positive number (got \(alpha))") }
        guard !targets.isEmpty else { throw TrainingError.invalidOption("--targets is empty") }
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    /// The factor on B (A x): alpha / rank, as llama.cpp's `llama_adapter_lora_weight::get_scale`.
    public var scale: Float { alpha / Float(rank) }
}

/// The deterministic initialisation of LoRA factors, reproduced bit for bit by the reference script.
///
/// Factor `which` (0 = A, 1 = B) of target t of layer l draws from `SplitMix64(seed:stream:)` with
/// stream (l * 7 + t.index) * 2 + which; element i (row-major) is the (i+1)-th output's
/// `nextSymmetricFloat()` times a bound: 1 / sqrt(in) for A (PEFT's kaiming-uniform bound with a = sqrt(5)),
/// `bScale` for B. Standard LoRA training starts from B = 0 (`bScale` 0), so the adapter begins as the
/// identity; a nonzero `bScale` makes the gradients of A nonzero from the first step (the reference test).
public struct LoRAInitialisation: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var bScale: Float

    public init(seed: UInt64, bScale: Float = 0) {
        self.seed = seed
        self.bScale = bScale
    }

    /// Stream number of a factor.
    public static func stream(layer: Int, target: LoRATarget, isB: Bool) -> UInt64 {
        UInt64((layer * LoRATarget.allCases.count + target.index) * 2 + (isB ? 1 : 0))
    }

    /// The values of factor A (rank x inputs) or B (outputs x rank), row-major.
    public func values(layer: Int, target: LoRATarget, isB: Bool, rank: Int, inputs: Int, outputs: Int) -> [Float] {
        let count = isB ? outputs * rank : rank * inputs
        let bound: Float = isB ? bScale : 1 / Float(inputs).squareRoot()
        if bound == 0 { return Array(repeating: 0, count: count) }
        var generator = SplitMix64(seed: seed, stream: Self.stream(layer: layer, target: target, isB: isB))
        return (0..<count).map { _ in generator.nextSymmetricFloat() * bound }
    }
}
