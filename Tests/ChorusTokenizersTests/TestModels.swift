import ChorusGGUF
import ChorusTokenizers
import Foundation
import Testing

/// Locates the committed oracle fixtures and the cached GGUF models, and loads each model's tokenizer once.
enum TestModels {
    /// The catalog models whose oracles live in `Tests/Fixtures/oracle/<id>.json`.
    static let ids = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]

    /// `<repo>/Tests/Fixtures` (see its README for where each file came from).
    static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// `$CHORUS_HOME/models`, default `~/.cache/chorus/models`.
    static var modelsDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let home = env["CHORUS_HOME"] { return URL(fileURLWithPath: home).appendingPathComponent("models") }
        let user = env["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: user).appendingPathComponent(".cache/chorus/models")
    }

    struct TokenizeCase: Decodable, Sendable {
        let text: String
        let add_special: Bool
        let parse_special: Bool
        let ids: [Int]
    }

    struct Oracle: Decodable, Sendable {
        let model: String
        let file: String
        let tokenize: [TokenizeCase]
    }

    static func oracle(_ id: String) throws -> Oracle {
        let url = fixturesDirectory.appendingPathComponent("oracle/\(id).json")
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(Oracle.self, from: data)
    }

    struct Loaded: @unchecked Sendable {
        let tokenizer: any Tokenizer
        let metadata: GGUFMetadata
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: Loaded] = [:]

    /// The tokenizer of model `id`; fails the calling test (via the thrown error) when the model is not cached.
    static func load(_ id: String) throws -> Loaded {
        lock.lock()
        defer { lock.unlock() }
        if let loaded = cache[id] { return loaded }
        let file = try oracle(id).file
        let path = modelsDirectory.appendingPathComponent(file).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelNotCached(id: id)
        }
        let gguf = try GGUFFile(path: path)
        let loaded = Loaded(tokenizer: try TokenizerLoader.load(from: gguf.metadata), metadata: gguf.metadata)
        cache[id] = loaded
        return loaded
    }

    struct ModelNotCached: Error, CustomStringConvertible {
        let id: String
        var description: String { "model \(id) not cached: run `chorus pull \(id)`" }
    }
}
