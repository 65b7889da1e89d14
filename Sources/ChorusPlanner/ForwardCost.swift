import ChorusRuntime

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
/// Roofline: each weight matrix costs max(bytes / contended read bandwidth of all units,
/// bytes / (units x one unit's product rate for its type at width W)), the compute side taken from
/// the profile's matrix-product rates; each parallel region adds one synchronisation. The fit
/// T(W) = a + s * roofline(W) absorbs what the roofline leaves out (attention, norms, cache
/// effects); `fitErrors` says how far it lands from each measurement.
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
    public var fitConstant: Double = 0
    public var fitScale: Double = 1

    public init(model: String, matrices: [MatrixRead], regions: Int, measured: [Sample] = []) {
        self.model = model
        self.matrices = matrices
        self.regions = regions
        self.measured = measured.sorted { $0.width < $1.width }
    }

    enum CodingKeys: String, CodingKey {
        case model, matrices, regions, measured
        case fitConstant = "fit_constant", fitScale = "fit_scale"
    }

    /// Roofline seconds of a forward pass of `width` rows, `logitRows` of which want logits.
    public func roofline(width: Int, logitRows: Int? = nil, profile: HardwareProfile) -> Double {
        let units = Double(max(1, profile.units.count))
        let bandwidth = max(1, profile.readBandwidthTotal)
        var total = Double(regions) * profile.synchronisationSeconds
        for m in matrices {
            let rows = m.isOutputHead ? (logitRows ?? width) : width
            guard rows > 0 else { continue }
            let memory = Double(m.bytes) / bandwidth
            let compute = Double(m.bytes) / (units * Self.productRate(type: m.type, width: rows, profile: profile))
            total += max(memory, compute)
        }
        return total
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

    /// Fit a and s of T(W) = a + s * roofline(W) to the measurements (least squares on relative error).
    public mutating func fit(profile: HardwareProfile) {
        let points = measured.map { (roofline(width: $0.width, profile: profile), $0.seconds) }
        guard !points.isEmpty else { return }
        // Minimise Σ ((a + s x - y) / y)^2: weighted least squares with weights 1/y^2.
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for (x, y) in points {
            let w = 1 / (y * y)
            sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y
        }
        let det = sw * sxx - sx * sx
        var a = 0.0, s = sy / max(sx, 1e-30)
        if points.count >= 2, abs(det) > 1e-30 {
            s = (sw * sxy - sx * sy) / det
            a = (sy - s * sx) / sw
        }
        if s <= 0 || a < 0 {
            // Scale only.
            a = 0
            s = sxy / max(sxx, 1e-30)
        }
        fitConstant = a
        fitScale = s
    }

    /// Fitted roofline seconds (the cost model).
    public func modelled(width: Int, logitRows: Int? = nil, profile: HardwareProfile) -> Double {
        fitConstant + fitScale * roofline(width: width, logitRows: logitRows, profile: profile)
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
        if let logitRows, logitRows < w {
            let head = matrices.filter(\.isOutputHead)
            if !head.isEmpty {
                let saved = fitScale * (headSeconds(rows: w, head, profile) - headSeconds(rows: max(0, logitRows), head, profile))
                t = max(t * 0.1, t - saved)
            }
        }
        return t
    }

    private func headSeconds(rows: Double, _ head: [MatrixRead], _ profile: HardwareProfile) -> Double {
        guard rows > 0 else { return 0 }
        let single = ForwardCost(model: model, matrices: head, regions: 0)
        let lower = Int(rows.rounded(.down)), upper = Int(rows.rounded(.up))
        let a = lower == 0 ? 0 : single.roofline(width: lower, profile: profile)
        let b = single.roofline(width: upper, profile: profile)
        return lower == upper ? b : a + (b - a) * (rows - Double(lower))
    }
}
