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

/// The test fixtures committed with the repository (`Tests/Fixtures`: `models.json`, llama.cpp's oracle
/// outputs, reference texts, prompts); `Tests/Fixtures/README.md` says where each came from.
public enum Fixtures {
    /// `<repo>/Tests/Fixtures`, found from this source file's path (`<repo>/Tests/ChorusTestSupport/TestModels.swift`).
    public static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }
}
