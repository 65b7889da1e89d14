import Foundation

/// Where the CLI writes: results on stdout, everything else (progress, summaries) on stderr.
enum Output {
    static func standardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Write text to stdout now (streamed generation).
    static func stream(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Print exactly one JSON object on stdout.
    static func json(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
