import ChorusRuntime
import Foundation

/// One weight matrix a forward pass reads.
public struct MatrixRead: Sendable, Equatable, Codable {
    public var type: String
    public var rows: Int
    public var columns: Int
    public var bytes: Int
    /// Whether this is the output head, whose cost scales with the rows that want logits.
    public var isOutputHead: Bool

    public init(type: String, rows: Int, columns: Int, bytes: Int, isOutputHead: Bool = false) {
        self.type = type
        self.rows = rows
        self.columns = columns
        self.bytes = bytes
        self.isOutputHead = isOutputHead
    }

    enum CodingKeys: String, CodingKey {
        case type, rows, columns, bytes
        case isOutputHead = "output_head"
    }
}

/// What one forward pass of a model costs on this machine, as a function of its width W (rows):
/// a roofline from the hardware profile, fitted to forward passes measured on the model.
///
/// Roofline: each weight matrix costs max(memory, compute), memory = bytes / contended read
/// bandwidth of all units, compute = bytes / (units x one unit's product rate for its type at
/// width W) from the profile's matrix-product rates; each parallel region adds one
/// synchronisation. The fit T(W) = a + Σ max(m x memory, s x compute) + synchronisations scales
/// both roofs to the model as measured (the profile's probe matrices sit in cache, the model's do
/// not) and adds what the roofline leaves out (attention, norms); `fitErrors` says how far it
/// lands from each measurement.
public struct ForwardCost: Sendable, Equatable, Codable {
    public struct Sample: Sendable, Equatable, Codable {
        public var width: Int
        public var seconds: Double
        public init(width: Int, seconds: Double) {
            self.width = width
            self.seconds = seconds
        }
    }

    public var model: String
    public var matrices: [MatrixRead]
    /// Parallel regions (synchronisations) per forward pass.
    public var regions: Int
    /// Forward passes timed on this machine, every row wanting logits.
    public var measured: [Sample]
    /// Fitted constant seconds, compute-roof scale and memory-roof scale.
    public var fitConstant: Double = 0
    public var fitScale: Double = 1
    public var fitMemoryScale: Double = 1

    public init(model: String, matrices: [MatrixRead], regions: Int, measured: [Sample] = []) {
        self.model = model
        self.matrices = matrices
        self.regions = regions
        self.measured = measured.sorted { $0.width < $1.width }
    }

    enum CodingKeys: String, CodingKey {
        case model, matrices, regions, measured
        case fitConstant = "fit_constant", fitScale = "fit_scale", fitMemoryScale = "fit_memory_scale"
    }

    /// Per matrix, roofline memory and compute seconds of a forward of `width` rows, `logitRows` of which want logits.
    func roofs(width: Int, logitRows: Int?, profile: HardwareProfile) -> [(memory: Double, compute: Double)] {
        let units = Double(max(1, profile.units.count))
        let bandwidth = max(1, profile.readBandwidthTotal)
        return matrices.compactMap { m in
            let rows = m.isOutputHead ? (logitRows ?? width) : width
            guard rows > 0 else { return nil }
            return (Double(m.bytes) / bandwidth, Double(m.bytes) / (units * Self.productRate(type: m.type, width: rows, profile: profile)))
        }
    }

    /// Unfitted roofline seconds of a forward pass of `width` rows, `logitRows` of which want logits.
    public func roofline(width: Int, logitRows: Int? = nil, profile: HardwareProfile) -> Double {
        roofs(width: width, logitRows: logitRows, profile: profile).reduce(Double(regions) * profile.synchronisationSeconds) {
            $0 + max($1.memory, $1.compute)
        }
    }

    /// Weight bytes per second one unit streams through a product of `width` rows for `type`:
    /// interpolated in seconds per byte between the profiled widths (linear past the widest); types
    /// the profile lacks take the slowest profiled type's rate.
    static func productRate(type: String, width: Int, profile: HardwareProfile) -> Double {
        var rates = profile.matmul.filter { $0.type == type }
        if rates.isEmpty {
            // The slowest type at width 1 stands in (a conservative guess).
            guard let slowest = profile.matmul.filter({ $0.width == 1 }).min(by: { $0.bytesPerSecond < $1.bytesPerSecond }) else {
                return profile.readBandwidthTotal
            }
            rates = profile.matmul.filter { $0.type == slowest.type }
        }
        rates.sort { $0.width < $1.width }
        let w = Double(width)
        let perByte = rates.map { (Double($0.width), 1 / $0.bytesPerSecond) }
        if w <= perByte[0].0 { return 1 / perByte[0].1 }
        for i in 1..<perByte.count where w <= perByte[i].0 {
            let (w0, c0) = perByte[i - 1], (w1, c1) = perByte[i]
            return 1 / (c0 + (c1 - c0) * (w - w0) / (w1 - w0))
        }
        // Past the widest: cost per byte grows in proportion to the width.
        let (wl, cl) = perByte[perByte.count - 1]
        return 1 / (cl * w / wl)
    }

    /// Fit a, m and s to the measurements, minimising the squared relative error: m and s on a
    /// logarithmic grid, a in closed form for each (never negative).
    public mutating func fit(profile: HardwareProfile) {
        guard !measured.isEmpty else { return }
        let sync = Double(regions) * profile.synchronisationSeconds
        let parts = measured.map { roofs(width: $0.width, logitRows: nil, profile: profile) }
        let grid = (0...72).map { pow(10, -2 + Double($0) / 18) }  // 0.01 ... 100
        var best = (error: Double.infinity, a: 0.0, m: 1.0, s: 1.0)
        for m in grid {
            for s in grid {
                let xs = parts.map { $0.reduce(sync) { $0 + max(m * $1.memory, s * $1.compute) } }
                var sw = 0.0, sr = 0.0
                for (x, sample) in zip(xs, measured) {
                    let w = 1 / (sample.seconds * sample.seconds)
                    sw += w
                    sr += w * (sample.seconds - x)
                }
                let a = max(0, sr / sw)
                var error = 0.0
                for (x, sample) in zip(xs, measured) { error += pow((a + x - sample.seconds) / sample.seconds, 2) }
                if error < best.error { best = (error, a, m, s) }
            }
        }
        fitConstant = best.a
        fitMemoryScale = best.m
        fitScale = best.s
    }

    /// Fitted roofline seconds (the cost model).
    public func modelled(width: Int, logitRows: Int? = nil, profile: HardwareProfile) -> Double {
        roofs(width: width, logitRows: logitRows, profile: profile).reduce(fitConstant + Double(regions) * profile.synchronisationSeconds) {
            $0 + max(fitMemoryScale * $1.memory, fitScale * $1.compute)
        }
    }

    /// Relative error of the fitted model at each measured width: (model - measured) / measured.
    public func fitErrors(profile: HardwareProfile) -> [(width: Int, error: Double)] {
        measured.map { ($0.width, modelled(width: $0.width, profile: profile) / $0.seconds - 1) }
    }

    /// Seconds of a forward pass of `width` rows (fractional widths interpolate), `logitRows` of which
    /// want logits (default all): measured where measured, the fitted model elsewhere; fewer logit
    /// rows subtract the output head's modelled share.
    public func seconds(width: Double, logitRows: Double? = nil, profile: HardwareProfile) -> Double {
        let w = max(1, width)
        let lower = Int(w.rounded(.down)), upper = Int(w.rounded(.up))
        func at(_ n: Int) -> Double {
            measured.first(where: { $0.width == n })?.seconds ?? modelled(width: n, profile: profile)
        }
        var t = lower == upper ? at(lower) : at(lower) + (at(upper) - at(lower)) * (w - Double(lower))
        if let logitRows, logitRows < w, matrices.contains(where: \.isOutputHead) {
            // Saved: the modelled cost of the output head's rows that want no logits.
            let n = Int(w.rounded()), l = max(0, Int(logitRows.rounded()))
            let saved = modelled(width: n, profile: profile) - modelled(width: n, logitRows: l, profile: profile)
            t = max(t * 0.1, t - saved)
        }
        return t
    }
}
