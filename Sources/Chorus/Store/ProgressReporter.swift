import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where fetch and verify progress goes: human lines on stderr, never stdout.
///
/// On a terminal a meter redraws one line in place (at most ten times a second); elsewhere (CI logs, pipes) it
/// prints a line at most every ten seconds plus one when done, so logs stay short.
public struct ProgressReporter: Sendable {
    /// Whether output goes to a terminal (meters redraw in place) or to a log (meters print sparse lines).
    public let isTerminal: Bool
    private let sink: @Sendable (String) -> Void

    /// A reporter writing text to `sink`; tests pass a collecting closure.
    public init(isTerminal: Bool, sink: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal
        self.sink = sink
    }

    /// Writes to the process's stderr, terminal style if stderr is a terminal.
    public static func standardError() -> ProgressReporter {
        ProgressReporter(isTerminal: isatty(STDERR_FILENO) != 0) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Says nothing.
    public static let silent = ProgressReporter(isTerminal: false) { _ in }

    /// One whole line of status.
    public func note(_ line: String) {
        sink(line + "\n")
    }

    /// A meter for an operation over `total` bytes, labelled e.g. "assembling model.gguf".
    public func meter(_ label: String, total: Int) -> ProgressMeter {
        ProgressMeter(reporter: self, label: label, total: total)
    }

    fileprivate func write(_ text: String) {
        sink(text)
    }
}

/// Progress of one byte-counting operation; make it with `ProgressReporter.meter`, feed it, then `finish()`.
public struct ProgressMeter {
    private let reporter: ProgressReporter
    private let label: String
    private let total: Int
    private let start = ContinuousClock.now
    private var lastShown = ContinuousClock.now
    private var done = 0

    fileprivate init(reporter: ProgressReporter, label: String, total: Int) {
        self.reporter = reporter
        self.label = label
        self.total = total
    }

    /// Records that `count` more bytes are done; redraws when it is time to.
    public mutating func advance(by count: Int) {
        done += count
        let now = ContinuousClock.now
        let interval: Duration = reporter.isTerminal ? .milliseconds(100) : .seconds(10)
        guard now - lastShown >= interval else { return }
        lastShown = now
        let line = "\(label): \(formatBytes(done)) / \(formatBytes(total)) (\(total > 0 ? done * 100 / total : 100)%)"
        reporter.write(reporter.isTerminal ? "\r\u{1B}[K" + line : line + "\n")
    }

    /// Prints the closing line: bytes, time, rate.
    public func finish() {
        let seconds = max((ContinuousClock.now - start) / .seconds(1), 1e-6)
        let rate = Double(done) / seconds / 1e6
        let line = "\(label): \(formatBytes(done)) in \(String(format: "%.1f", seconds))s (\(String(format: "%.0f", rate)) MB/s)"
        reporter.write((reporter.isTerminal ? "\r\u{1B}[K" : "") + line + "\n")
    }
}

/// Bytes as decimal megabytes with one decimal, "253.1 MB"; small counts in bytes.
public func formatBytes(_ count: Int) -> String {
    count < 100_000 ? "\(count) B" : String(format: "%.1f MB", Double(count) / 1e6)
}
