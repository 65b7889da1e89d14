import Chorus
import Foundation

/// Catalog models for tests, taken from the local cache and never fetched: tests stay offline and fast.
public enum TestModels {
    /// Path of catalog model `id` in `$CHORUS_HOME/models` (default `~/.cache/chorus/models`), or `home/models`
    /// when `home` is given. Throws "model X not cached: run `chorus pull X`" when it is not there.
    public static func path(_ id: String, home: String? = nil) throws -> String {
        try ModelStore(home: home, progress: .silent).resolve(id, fetch: false)
    }
}

/// The shared folder beside the repository (`models.json`, oracle outputs, prompts).
public enum SharedFixtures {
    /// `$CHORUS_SHARED` if set, else `<repo>/../shared` found from this source file's path.
    public static var directory: String {
        if let override = ProcessInfo.processInfo.environment["CHORUS_SHARED"], !override.isEmpty { return override }
        // #filePath is <repo>/Tests/ChorusTestSupport/TestModels.swift.
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repository.deletingLastPathComponent().appendingPathComponent("shared").path
    }
}
