/// JSON for reports, written by hand so keys keep a fixed, readable order and the module needs no Foundation.
public enum ReportJSON {
    /// `{"schedule": S, "makespan": x, "bubble_fraction": y, "peak_activations": [...], "exposed_comm": z, ...}`.
    public static func object(_ r: SimulationReport) -> String {
        let fields: [(String, String)] = [
            ("schedule", string(r.schedule.rawValue)),
            ("makespan", number(r.makespan)),
            ("bubble_fraction", number(r.bubbleFraction)),
            ("peak_activations", "[" + r.peakActivations.map(String.init).joined(separator: ", ") + "]"),
            ("exposed_comm", number(r.exposedComm)),
            ("hidden_comm", number(r.hiddenComm)),
            ("stages", String(r.ranks)),
            ("microbatches", String(r.microbatches)),
            ("chunks_per_stage", String(r.chunksPerRank)),
            ("overlap", r.overlap ? "true" : "false"),
        ]
        return "{" + fields.map { "\(string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// `{"error": message}` for a schedule that could not run.
    public static func error(_ kind: ScheduleKind?, _ message: String) -> String {
        (kind.map { "{\(string("schedule")): \(string($0.rawValue)), " } ?? "{") + "\(string("error")): \(string(message))}"
    }

    /// `{"schedules": [...]}` with one object per family.
    public static func comparison(_ table: ComparisonTable) -> String {
        let items = table.rows.map { row -> String in
            switch row.outcome {
            case .success(let r): object(r)
            case .failure(let e): error(row.kind, e.description)
            }
        }
        return "{\"schedules\": [\n  " + items.joined(separator: ",\n  ") + "\n]}"
    }

    static func number(_ x: Double) -> String { x.isFinite ? formatNumber(x, decimals: 6) : "null" }

    static func string(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
}
