import ChorusTestSupport
import Foundation
import Testing
@testable import Chorus

@Suite struct ModelCatalogTests {
    private struct FixtureCatalog: Decodable {
        var models: [CatalogEntry]
    }

    /// The embedded catalog and Tests/Fixtures/models.json (the project's model list) must never drift apart.
    @Test func embeddedCatalogEqualsModelsJSONFixture() throws {
        let path = Fixtures.directory + "/models.json"
        let data = try #require(FileManager.default.contents(atPath: path), "cannot read \(path)")
        let fixture = try JSONDecoder().decode(FixtureCatalog.self, from: data)
        #expect(fixture.models.map(\.id) == ModelCatalog.standard.ids)
        for (embedded, expected) in zip(ModelCatalog.standard.models, fixture.models) {
            #expect(embedded == expected, "catalog entry \(expected.id) differs from models.json")
        }
    }

    @Test func entriesAreConsistent() {
        for entry in ModelCatalog.standard.models {
            #expect(entry.sha256.count == 64 && entry.sha256.allSatisfy(\.isHexDigit))
            #expect(entry.file.hasSuffix(".gguf") && !entry.file.contains("/"))
            #expect(!entry.packages.isEmpty && entry.bytes > 0)
        }
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
