/// Time of each kind of work, per micro-batch per pipeline rank; one chunk of an interleaved schedule costs
/// 1/V of it. Units are arbitrary (tests use F = 1), or milliseconds when measured.
public struct CostModel: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Forward compute (attention + MLP) of one micro-batch on one rank: `f`.
    public var forward: Double
    /// Backward input-gradient compute: `b`.
    public var backward: Double
    /// Backward weight-gradient compute: `w` (schedules that do not split the backward pay b + w at once).
    public var weight: Double
    /// One pipeline send of an activation or gradient between adjacent stages: `pp` (not scaled by 1/V, the
    /// tensor at a stage boundary is the same size whatever the chunking).
    public var pipeline: Double
    /// One expert-parallel all-to-all (dispatch or combine, forward or backward): `ep`.
    public var expert: Double
    /// Share of compute in the attention part of a chunk, the rest being the MLP: `attn`.
    public var attentionShare: Double

    /// Creates a cost model; the defaults are the CLI's: f=1, b=2, w=1, pp=0.2, ep=0.5, attn=0.5.
    public init(forward: Double = 1, backward: Double = 2, weight: Double = 1, pipeline: Double = 0.2, expert: Double = 0.5, attentionShare: Double = 0.5) {
        self.forward = forward
        self.backward = backward
        self.weight = weight
        self.pipeline = pipeline
        self.expert = expert
        self.attentionShare = attentionShare
    }

    /// The CLI default.
    public static let standard = CostModel()

    /// Parses `f=1,b=2,w=1,pp=0.2,ep=0.5[,attn=0.5]`; keys left out keep their value in `base`.
    public init(parsing spec: String, base: CostModel = .standard) throws {
        self = base
        let trimmed = spec.filter { !$0.isWhitespace }
        guard !trimmed.isEmpty else { throw PipelineError.invalidCosts("empty --costs string (expected e.g. f=1,b=2,w=1,pp=0.2,ep=0.5)") }
        var seen: Set<String> = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "=", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[0].isEmpty else {
                throw PipelineError.invalidCosts("bad --costs entry '\(item)': expected key=value, e.g. f=1,b=2,w=1,pp=0.2,ep=0.5")
            }
            let key = String(pieces[0]).lowercased()
            guard let value = Double(pieces[1]), value.isFinite else {
                throw PipelineError.invalidCosts("bad --costs entry '\(item)': '\(pieces[1])' is not a number")
            }
            guard value >= 0 else { throw PipelineError.invalidCosts("bad --costs entry '\(item)': costs cannot be negative") }
            guard seen.insert(key).inserted else { throw PipelineError.invalidCosts("bad --costs: '\(key)' given twice") }
            switch key {
            case "f": forward = value
            case "b": backward = value
            case "w": weight = value
            case "pp": pipeline = value
            case "ep": expert = value
            case "attn":
                guard value <= 1 else { throw PipelineError.invalidCosts("bad --costs entry '\(item)': attn is a share between 0 and 1") }
                attentionShare = value
            default:
                throw PipelineError.invalidCosts("bad --costs entry '\(item)': unknown key '\(key)' (use f, b, w, pp, ep, attn)")
            }
        }
        guard forward + backward + weight > 0 else {
            throw PipelineError.invalidCosts("bad --costs: f, b and w are all zero, so there is nothing to schedule")
        }
    }

    public var description: String {
        "f=\(formatNumber(forward)),b=\(formatNumber(backward)),w=\(formatNumber(weight)),pp=\(formatNumber(pipeline)),ep=\(formatNumber(expert))"
            + (attentionShare == 0.5 ? "" : ",attn=\(formatNumber(attentionShare))")
    }

    /// Time of `op` for a chunk that costs `scale` of a rank's per-micro-batch work; a recv costs nothing by
    /// itself (it waits for its send).
    public func duration(of op: Op, scale: Double) -> Double {
        func share(_ part: Part) -> Double { part == .attention ? attentionShare : 1 - attentionShare }
        switch op {
        case .forward(let part): return forward * scale * share(part)
        case .backward(let part, let withWeight): return (backward + (withWeight ? weight : 0)) * scale * share(part)
        case .weight: return weight * scale
        case .dispatch, .combine: return expert * scale
        case .send: return pipeline
        case .recv: return 0
        }
    }
}

/// Something that can time one transformer layer's forward pass of one micro-batch on this machine, so costs
/// can come from a real model instead of guesses; the CLI supplies one once the model engine exists.
public protocol LayerCostSource {
    /// Name shown in reports (the model path or id).
    var modelName: String { get }
    /// Transformer layers in the model, split evenly over the pipeline ranks.
    var layerCount: Int { get }
    /// Seconds for one layer's forward pass of one micro-batch.
    func measureLayerForwardSeconds() throws -> Double
}

/// A `LayerCostSource` made of values and a closure, for wiring and tests.
public struct ClosureLayerCostSource: LayerCostSource {
    /// Name shown in reports.
    public var modelName: String
    /// Transformer layers in the model.
    public var layerCount: Int
    private let measure: () throws -> Double

    /// Creates a source that calls `measure` for the per-layer forward time in seconds.
    public init(modelName: String, layerCount: Int, measure: @escaping () throws -> Double) {
        self.modelName = modelName
        self.layerCount = layerCount
        self.measure = measure
    }

    /// Calls the closure.
    public func measureLayerForwardSeconds() throws -> Double { try measure() }
}

extension CostModel {
    /// Costs in milliseconds from a measured layer: f = layer time x layers per rank; backward is about twice the
    /// forward until training exists, split evenly as b = w = f; pp and ep keep their ratio to f from
    /// `ratios` (defaults 0.2 and 0.5).
    public static func measured(from source: some LayerCostSource, ranks: Int, ratios: CostModel = .standard) throws -> CostModel {
        guard source.layerCount >= ranks, ranks >= 1 else {
            throw PipelineError.invalidShape("\(source.modelName) has \(source.layerCount) layers, fewer than --stages \(ranks)")
        }
        let seconds = try source.measureLayerForwardSeconds()
        guard seconds.isFinite, seconds > 0 else {
            throw PipelineError.costSourceUnavailable("measuring \(source.modelName) gave a layer forward time of \(seconds) s")
        }
        let f = seconds * 1000 * Double(source.layerCount) / Double(ranks)
        let unit = ratios.forward > 0 ? ratios.forward : 1
        return CostModel(forward: f, backward: f, weight: f,
                         pipeline: f * ratios.pipeline / unit, expert: f * ratios.expert / unit,
                         attentionShare: ratios.attentionShare)
    }
}

/// Prints a number with at most `decimals` decimals and no trailing zeros ("1", "0.25", "44.3"), so reports
/// and JSON read cleanly without Foundation.
public func formatNumber(_ x: Double, decimals: Int = 4) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    let whole = (scaled / scale).rounded(.down)
    var fraction = Int((scaled - whole * scale).rounded())
    var digits = ""
    for _ in 0..<decimals {
        digits = String(fraction % 10) + digits
        fraction /= 10
    }
    while digits.hasSuffix("0") { digits.removeLast() }
    let sign = x < 0 && scaled > 0 ? "-" : ""
    let integer = whole < 1e15 ? String(Int64(whole)) : String(whole)
    return sign + integer + (digits.isEmpty ? "" : "." + digits)
}

/// Fixed `decimals` decimals (for aligned tables).
func formatFixed(_ x: Double, decimals: Int) -> String {
    let s = formatNumber(x, decimals: decimals)
    guard decimals > 0 else { return s }
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: s.index(after: dot), to: s.endIndex)
        return s + String(repeating: "0", count: decimals - have)
    }
    return s + "." + String(repeating: "0", count: decimals)
}
