import ChorusTestSupport
import Foundation
import Testing
@testable import Chorus

@Suite struct ModelCatalogTests {
    private struct FixtureCatalog: Decodable {
        var models: [CatalogEntry]
    }

    /// The fetched models of the embedded catalog and Tests/Fixtures/models.json (the project's model list)
    /// must never drift apart (the derived models are Chorus's own and come after them).
    @Test func embeddedCatalogEqualsModelsJSONFixture() throws {
        let path = Fixtures.directory + "/models.json"
        let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
        let fixture = try JSONDecoder().decode(FixtureCatalog.self, from: data)
        let fetched = ModelCatalog.standard.models.filter { $0.derivation == nil }
        #expect(fixture.models.map(\.id) == fetched.map(\.id))
        #expect(ModelCatalog.standard.models.prefix(fetched.count).elementsEqual(fetched), "derived models come last")
        for (embedded, expected) in zip(fetched, fixture.models) {
            #expect(embedded == expected, "catalog entry \(expected.id) differs from models.json")
        }
    }

    @Test func entriesAreConsistent() {
        for entry in ModelCatalog.standard.models {
            #expect(entry.sha256.count == 64 && entry.sha256.allSatisfy(\.isHexDigit))
            #expect(entry.file.hasSuffix(".gguf") && !entry.file.contains("/"))
            #expect(entry.bytes > 0)
            if let derivation = entry.derivation {
                #expect(entry.packages.isEmpty, "\(entry.id) is built, not fetched")
                let base = ModelCatalog.standard.entry(id: derivation.base)
                #expect(base != nil && base?.derivation == nil, "\(entry.id) must derive from a fetched catalog model")
            } else {
                #expect(!entry.packages.isEmpty)
            }
        }
        #expect(ModelCatalog.standard.entry(id: "smollm2-135m-moe")?.derivation == .init(base: "smollm2-135m", method: .upcycle, experts: 8, used: 2))
        #expect(ModelCatalog.standard.entry(id: "smollm2-135m-moe-split")?.derivation == .init(base: "smollm2-135m", method: .split, experts: 8, used: 8))
        #expect(Set(ModelCatalog.standard.ids).count == ModelCatalog.standard.models.count)
        #expect(ModelCatalog.standard.entry(id: "gemma3-270m")?.packages.count == 4)
        #expect(ModelCatalog.standard.entry(id: "nope") == nil)
    }

    @Test func testModelsNeverFetches() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-testmodels-\(UUID())").path
        #expect(throws: ModelStoreError.notCached(id: "smollm2-135m")) { try TestModels.path("smollm2-135m", home: home) }
        #expect(ModelStoreError.notCached(id: "smollm2-135m").description
            == "model smollm2-135m not cached: run `chorus pull smollm2-135m`")
        #expect(!FileManager.default.fileExists(atPath: home))
    }
}
