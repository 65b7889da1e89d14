import ChorusGGUF
import ChorusKernels

/// How a derived catalog model is made from a dense catalog model, locally, by `chorus pull`.
///
/// Both methods turn every dense feed-forward block of a llama-architecture file into a
/// mixture-of-experts block in llama.cpp's layout (router `blk.N.ffn_gate_inp.weight` F32
/// `[n_embd, E]`; experts as 3-D tensors `blk.N.ffn_{gate,up}_exps.weight` `[n_embd, n_ff_exp, E]` and
/// `blk.N.ffn_down_exps.weight` `[n_ff_exp, n_embd, E]`; `llama.expert_count`, `llama.expert_used_count`,
/// and `llama.feed_forward_length` holding the expert width `n_ff_exp`). llama.cpp's llama graph gates
/// them with a softmax over the router logits, top-k, and weights renormalised to sum to one.
public struct ModelDerivation: Sendable, Hashable, Codable {
    public enum Method: String, Sendable, Hashable, Codable {
        /// Sparse upcycling (Komatsuzaki et al.): `experts` copies of the dense FFN, `used` of them per
        /// token, router row e = the mean dense gate row of the e-th of `experts` equal neuron ranges.
        /// Renormalised top-k weights sum to one, so the output is the dense model's up to rounding.
        case upcycle
        /// The FFN's neurons cut into `experts` contiguous ranges, every expert used (`used == experts`),
        /// a zero router (weights 1/E each) and each expert's down projection scaled by E in its block
        /// scales (exact for a power of two): the dense model up to rounding, with a narrower expert width.
        case split
    }

    /// Catalog id of the dense model it is built from.
    public var base: String
    public var method: Method
    /// Experts per layer (E).
    public var experts: Int
    /// Experts used per token (k).
    public var used: Int

    public init(base: String, method: Method, experts: Int, used: Int) {
        self.base = base
        self.method = method
        self.experts = experts
        self.used = used
    }
}

/// Why a model could not be derived, in one line.
public struct DerivationError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "cannot derive a mixture-of-experts model: \(message)" }
}

/// Builds the file of a `ModelDerivation` from its base GGUF, streamed: header, then tensor after tensor,
/// so nothing larger than one layer's experts is held in memory. Deterministic: the same base always
/// gives the same bytes, which the catalog pins with a SHA-256.
public enum MoEDerivation {
    /// Writes the derived file's bytes, in order, through `write`; returns the total byte count.
    @discardableResult
    public static func write(from base: GGUFFile, _ derivation: ModelDerivation,
                             to write: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let plan = try Plan(base: base, derivation: derivation)
        var total = 0
        func emit(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
            total += bytes.count
        }
        try emit(plan.writer.header(for: plan.tensors.map(\.layout)))
        for tensor in plan.tensors {
            let bytes = try tensor.bytes()
            guard bytes.count == tensor.layout.byteCount else {
                throw DerivationError("tensor \(tensor.layout.name) came out as \(bytes.count) bytes, expected \(tensor.layout.byteCount)")
            }
            try emit(bytes)
            try emit([UInt8](repeating: 0, count: plan.writer.padding(after: bytes.count)))
        }
        return total
    }

    /// One output tensor: where it goes and how its bytes are made.
    struct Output {
        var layout: GGUFWriter.TensorLayout
        var bytes: () throws -> [UInt8]
    }

    /// The derived file's metadata and tensors, in file order.
    struct Plan {
        var writer: GGUFWriter
        var tensors: [Output] = []

        init(base: GGUFFile, derivation d: ModelDerivation) throws {
            guard base.architecture == "llama" else {
                throw DerivationError("the base model's architecture is '\(base.architecture ?? "none")', only llama is supported")
            }
            let meta = base.metadata
            let width = try meta.int("llama.feed_forward_length")
            guard meta["llama.expert_count"] == nil else { throw DerivationError("the base model already has experts") }
            guard d.experts >= 2, d.experts <= 256, (1...d.experts).contains(d.used) else {
                throw DerivationError("\(d.used) of \(d.experts) experts is not a valid routing (2...256 experts, 1...E used)")
            }
            guard width % d.experts == 0 else {
                throw DerivationError("\(width) FFN neurons do not split into \(d.experts) equal experts")
            }
            if d.method == .split {
                guard d.used == d.experts, d.experts & (d.experts - 1) == 0 else {
                    throw DerivationError("a split model uses every expert and a power-of-two count (got \(d.used) of \(d.experts))")
                }
            }
            var metadata = meta
            metadata["llama.expert_count"] = .uint32(UInt32(d.experts))
            metadata["llama.expert_used_count"] = .uint32(UInt32(d.used))
            if d.method == .split { metadata["llama.feed_forward_length"] = .uint32(UInt32(width / d.experts)) }
            let label = d.method == .upcycle ? "upcycled \(d.experts)x\(d.used)" : "split \(d.experts)x\(width / d.experts)"
            metadata["general.name"] = .string((meta["general.name"]?.stringValue ?? "model") + " MoE (\(label), derived by Chorus)")
            metadata["chorus.derived_from"] = .string(d.base)
            metadata["chorus.derivation"] = .string(d.method.rawValue)
            writer = GGUFWriter(metadata: metadata)
            writer.alignment = base.alignment

            for info in base.tensors {
                let parts = info.name.split(separator: ".")
                let role = parts.count == 4 && parts[0] == "blk" ? String(parts[2]) : ""
                switch role {
                case "ffn_gate":
                    tensors.append(try router(base, info, d, width: width))
                    tensors.append(try experts(base, info, d, width: width, suffix: "ffn_gate_exps"))
                case "ffn_up":
                    tensors.append(try experts(base, info, d, width: width, suffix: "ffn_up_exps"))
                case "ffn_down":
                    tensors.append(try experts(base, info, d, width: width, suffix: "ffn_down_exps"))
                default:
                    let copy = info
                    tensors.append(Output(layout: .init(name: info.name, dimensions: info.dimensions, type: info.type)) {
                        Array(UnsafeRawBufferPointer(start: base.data(for: copy), count: copy.byteCount))
                    })
                }
            }
        }

        /// `blk.N.ffn_gate_inp.weight`, F32 `[n_embd, E]`.
        func router(_ base: GGUFFile, _ gate: GGUFTensorInfo, _ d: ModelDerivation, width: Int) throws -> Output {
            try expectMatrix(gate, rows: width)
            let name = gate.name.replacingOccurrences(of: "ffn_gate", with: "ffn_gate_inp")
            let columns = gate.columns
            let layout = GGUFWriter.TensorLayout(name: name, dimensions: [columns, d.experts], type: .f32)
            guard d.method == .upcycle else {
                return Output(layout: layout) { [UInt8](repeating: 0, count: columns * d.experts * 4) }
            }
            let matrix = WeightMatrix(name: gate.name, type: gate.type, rows: gate.rows, columns: columns, data: base.data(for: gate))
            try matrix.checkReadable()
            return Output(layout: layout) {
                let group = width / d.experts
                var row = [Float](repeating: 0, count: columns)
                var out: [Float] = []
                out.reserveCapacity(columns * d.experts)
                for e in 0..<d.experts {
                    var sum = [Double](repeating: 0, count: columns)
                    for neuron in e * group..<(e + 1) * group {
                        row.withUnsafeMutableBufferPointer { matrix.dequantizeRow(neuron, into: $0.baseAddress!) }
                        for c in 0..<columns { sum[c] += Double(row[c]) }
                    }
                    out.append(contentsOf: sum.map { Float($0 / Double(group)) })
                }
                return out.withUnsafeBytes { Array($0) }
            }
        }

        /// `blk.N.ffn_{gate,up,down}_exps.weight` from the dense matrix `dense`.
        func experts(_ base: GGUFFile, _ dense: GGUFTensorInfo, _ d: ModelDerivation, width: Int, suffix: String) throws -> Output {
            let isDown = suffix == "ffn_down_exps"
            try expectMatrix(dense, rows: isDown ? nil : width)
            if isDown, dense.columns != width {
                throw DerivationError("\(dense.name) has \(dense.columns) columns, the FFN width is \(width)")
            }
            let parts = dense.name.split(separator: ".")
            let name = "blk.\(parts[1]).\(suffix).weight"
            let source = UnsafeRawBufferPointer(start: base.data(for: dense), count: dense.byteCount)
            let expertWidth = d.method == .split ? width / d.experts : width
            let dimensions = isDown ? [expertWidth, dense.rows, d.experts] : [dense.columns, expertWidth, d.experts]
            let layout = GGUFWriter.TensorLayout(name: name, dimensions: dimensions, type: dense.type)
            switch (d.method, isDown) {
            case (.upcycle, _):
                // E copies of the dense matrix, expert after expert.
                return Output(layout: layout) {
                    var out: [UInt8] = []
                    out.reserveCapacity(source.count * d.experts)
                    for _ in 0..<d.experts { out.append(contentsOf: source) }
                    return out
                }
            case (.split, false):
                // Expert e = neurons e*w..<(e+1)*w = rows of the dense matrix: the same bytes in the same order.
                return Output(layout: layout) { Array(source) }
            case (.split, true):
                return Output(layout: layout, bytes: try splitDown(dense, source, experts: d.experts, expertWidth: expertWidth))
            }
        }

        /// The down projection's columns cut into E experts of `expertWidth`, each row slice's block scales
        /// multiplied by E. Quantised blocks are copied whole; only their scale fields change.
        func splitDown(_ dense: GGUFTensorInfo, _ source: UnsafeRawBufferPointer, experts: Int,
                       expertWidth: Int) throws -> () throws -> [UInt8] {
            let type = dense.type
            guard expertWidth % type.blockSize == 0 else {
                throw DerivationError("\(dense.name): an expert of \(expertWidth) columns is not a whole number of \(type) blocks of \(type.blockSize)")
            }
            guard let fields = type.linearScaleOffsets else {
                throw DerivationError("\(dense.name): scaling \(type) blocks is not supported")
            }
            let sliceBytes = expertWidth / type.blockSize * type.bytesPerBlock
            let rowBytes = dense.columns / type.blockSize * type.bytesPerBlock
            let rows = dense.rows
            let name = dense.name
            return {
                var out = [UInt8](repeating: 0, count: experts * rows * sliceBytes)
                try out.withUnsafeMutableBytes { out in
                    for e in 0..<experts {
                        for r in 0..<rows {
                            let target = out.baseAddress! + (e * rows + r) * sliceBytes
                            target.copyMemory(from: source.baseAddress! + r * rowBytes + e * sliceBytes, byteCount: sliceBytes)
                            try Self.scale(target, blocks: sliceBytes / type.bytesPerBlock, type: type, fields: fields,
                                           by: Float(experts), tensor: name)
                        }
                    }
                }
                return out
            }
        }

        func expectMatrix(_ info: GGUFTensorInfo, rows: Int?) throws {
            guard info.dimensions.count == 2, rows == nil || info.rows == rows! else {
                throw DerivationError("\(info.name) has shape \(info.dimensions), expected a matrix of \(rows.map(String.init) ?? "any") rows")
            }
        }

        /// Multiplies `blocks` blocks of `type` at `p` by `factor` (a power of two) exactly, or throws.
        static func scale(_ p: UnsafeMutableRawPointer, blocks: Int, type: GGMLType, fields: [Int], by factor: Float,
                          tensor: String) throws {
            func scaledHalf(_ offset: Int) throws {
                let value = halfToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
                let bits = floatToHalf(value * factor)
                guard halfToFloat(bits) == value * factor else {
                    throw DerivationError("\(tensor): \(value) x \(factor) is not exact in a half float")
                }
                p.storeBytes(of: bits, toByteOffset: offset, as: UInt16.self)
            }
            switch type {
            case .f32:
                for i in 0..<blocks {
                    let value = p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) * factor
                    guard value.isFinite else { throw DerivationError("\(tensor): scaling by \(factor) overflows") }
                    p.storeBytes(of: value, toByteOffset: 4 * i, as: Float.self)
                }
            case .f16:
                for i in 0..<blocks { try scaledHalf(2 * i) }
            default:
                for b in 0..<blocks {
                    for field in fields { try scaledHalf(b * type.bytesPerBlock + field) }
                }
            }
        }
    }
}
