import ArgumentParser
import Chorus
import Foundation

/// `chorus models`: the catalog, and which models are in the local cache.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the catalog models and whether each is cached.")

    @Flag(help: "Print one JSON object on stdout: {\"models\": [{\"id\", \"arch\", \"file\", \"bytes\", \"cached\", \"path\"}]}; a derived model also has \"derived_from\" (its base model's id) and \"derivation\".")
    var json = false

    /// One catalog model as listed; `path` is where it lives in the cache, or will once pulled.
    struct Row: Encodable {
        var id: String
        var arch: String
        var file: String
        var bytes: Int
        var cached: Bool
        var path: String
        /// For a model built locally by `chorus pull`: the catalog id it is built from, and how.
        var derived_from: String?
        var derivation: String?
    }

    func run() throws {
        let store = ModelStore()
        let rows = store.catalog.models.map { entry in
            Row(id: entry.id, arch: entry.arch, file: entry.file, bytes: entry.bytes, cached: store.isCached(entry),
                path: store.path(for: entry), derived_from: entry.derivation?.base,
                derivation: entry.derivation.map { "\($0.method.rawValue) \($0.experts) experts, \($0.used) used" })
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(["models": rows]), as: UTF8.self))
            return
        }
        let table = [["ID", "ARCH", "SIZE", "CACHED", "PATH"]]
            + rows.map { [$0.id, $0.derived_from == nil ? $0.arch : $0.arch + " moe", formatBytes($0.bytes), $0.cached ? "yes" : "no", $0.path] }
        let widths = (0..<4).map { column in table.map { $0[column].count }.max() ?? 0 }
        for line in table {
            let padded = zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
            print((padded + [line[4]]).joined(separator: "  "))
        }
    }
}
