import Foundation

/// Where `scripts/llama-vocab/fetch.py` keeps llama.cpp's tokenizer suite (vocabulary-only GGUF files
/// with their cases), taken from the llama-cpp-python sdist of `version`.
public enum LlamaVocabSuite {
    /// The sdist version fetch.py pins; the fixtures in Tests/Fixtures/llama-vocab were made with it.
    public static let version = "0.3.36"

    /// `$CHORUS_LLAMA_VOCAB`, else `$CHORUS_HOME/llama-vocab/<version>` (default home `~/.cache/chorus`).
    public static var directory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["CHORUS_LLAMA_VOCAB"], !directory.isEmpty { return URL(fileURLWithPath: directory) }
        let home = environment["CHORUS_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/chorus"
        return URL(fileURLWithPath: home).appendingPathComponent("llama-vocab/\(version)")
    }

    /// The path of `ggml-vocab-<name>.gguf`; throws, saying how to fetch the suite, when it is not there.
    public static func path(_ name: String) throws -> String {
        let path = directory.appendingPathComponent("ggml-vocab-\(name).gguf").path
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("COMPLETE").path),
              FileManager.default.fileExists(atPath: path) else { throw NotFetched(directory: directory.path) }
        return path
    }

    public struct NotFetched: Error, CustomStringConvertible {
        public let directory: String
        public init(directory: String) { self.directory = directory }
        public var description: String { "llama.cpp's tokenizer suite is not in \(directory): run scripts/llama-vocab/fetch.py" }
    }
}
