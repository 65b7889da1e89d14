import Foundation

/// Measurements `chorus tune` keeps under `$CHORUS_HOME/tune`, so a second tune on the same machine
/// skips them: the hardware profile per machine and thread count, forward costs per machine and
/// model file (and Chorus build: faster kernels change them), acceptance per calibration file,
/// target and drafter. Keys name what the value depends on; a value that no longer decodes is
/// measured again.
public struct TuneCache: Sendable {
    public let directory: String

    public init(home: String = ModelStore.defaultHome()) {
        directory = home + "/tune"
    }

    /// This machine: host name, processor model and logical CPU count.
    public static var machine: String {
        var model = "cpu"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return "\(ProcessInfo.processInfo.hostName)|\(model)|\(ProcessInfo.processInfo.activeProcessorCount)"
    }

    /// A model file's identity: path, size and modification time.
    public static func fileIdentity(_ path: String) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
        let date = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(path)|\(size)|\(Int(date))"
    }

    /// The running executable's identity: a rebuilt Chorus (faster kernels) measures again.
    public static var build: String {
        fileIdentity(URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().path)
    }

    /// File name for a value of `kind` keyed by `parts` (hashed, with the kind readable).
    public func path(kind: String, key parts: [String]) -> String {
        let digest = SHA256.hash(Array(([ChorusVersion.string] + parts).joined(separator: "\n").utf8))
        return directory + "/\(kind)-" + SHA256.hex(digest).prefix(16) + ".json"
    }

    public func load<T: Decodable>(_ type: T.Type, kind: String, key: [String]) -> T? {
        guard let data = FileManager.default.contents(atPath: path(kind: kind, key: key)) else { return nil }
        return try? JSONDecoder().decode(T.self, from: data)
    }

    /// The value stored under `kind` and `key`, unless `fresh` or there is none; else `measure()`'s,
    /// stored for the next run. `hit` is told when the stored value serves.
    public func value<T: Codable>(kind: String, key: [String], fresh: Bool, hit: () -> Void = {},
                                  measure: () throws -> T) rethrows -> T {
        if !fresh, let cached = load(T.self, kind: kind, key: key) {
            hit()
            return cached
        }
        let measured = try measure()
        store(measured, kind: kind, key: key)
        return measured
    }

    public func store<T: Encodable>(_ value: T, kind: String, key: [String]) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try JSONEncoder().encode(value).write(to: URL(fileURLWithPath: path(kind: kind, key: key)), options: .atomic)
        } catch {
            // A cache that cannot be written only costs time next run.
        }
    }
}
