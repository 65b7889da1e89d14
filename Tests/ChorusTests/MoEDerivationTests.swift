import ChorusGGUF
import ChorusKernels
import ChorusTestSupport
import Foundation
import Testing
@testable import Chorus

/// The two mixture-of-experts models Chorus derives from the dense SmolLM2-135M, checked against the dense
/// file itself (bytes and dequantised values, independently of the derivation code) and against llama.cpp's
/// layout (llama-model.cpp: router `[n_embd, E]`, gate/up `[n_embd, n_ff_exp, E]`, down `[n_ff_exp, n_embd, E]`).
@Suite(.serialized) struct MoEDerivationTests {
    static let dense = "smollm2-135m"

    /// Builds catalog model `id` from the cached dense model into a temporary file; returns it with its
    /// SHA-256 and size.
    static func build(_ id: String) throws -> (file: GGUFFile, sha256: String, bytes: Int, directory: TemporaryDirectory) {
        let entry = try #require(ModelCatalog.standard.entry(id: id))
        let derivation = try #require(entry.derivation)
        let base = try GGUFFile(path: try TestModels.path(derivation.base))
        let directory = try TemporaryDirectory("moe")
        let path = directory.path + "/" + entry.file
        let output = try RawFile.writing(path)
        var hasher = SHA256()
        let bytes = try MoEDerivation.write(from: base, derivation) { chunk in
            hasher.update(chunk)
            try output.writeAll(chunk)
        }
        output.closeFile()
        return (try GGUFFile(path: path), hasher.finalizeHex(), bytes, directory)
    }

    static func bytes(_ file: GGUFFile, _ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: file.data(for: info), count: info.byteCount)
    }

    static func dequantized(_ file: GGUFFile, _ info: GGUFTensorInfo, row: Int) -> [Float] {
        let matrix = WeightMatrix(name: info.name, type: info.type, rows: info.rows, columns: info.columns, data: file.data(for: info))
        var out = [Float](repeating: 0, count: info.columns)
        out.withUnsafeMutableBufferPointer { matrix.dequantizeRow(row, into: $0.baseAddress!) }
        return out
    }

    /// Every tensor but the FFN ones is the dense file's, byte for byte; the metadata is the dense file's
    /// plus the expert keys.
    static func expectSharedParts(_ moe: GGUFFile, _ dense: GGUFFile, experts: Int, used: Int, width: Int) throws {
        #expect(try moe.metadata.int("llama.expert_count") == experts)
        #expect(try moe.metadata.int("llama.expert_used_count") == used)
        #expect(try moe.metadata.int("llama.feed_forward_length") == width)
        #expect(try moe.metadata.int("llama.block_count") == dense.metadata.int("llama.block_count"))
        for key in dense.metadata.keys where !["llama.feed_forward_length", "general.name"].contains(key) {
            #expect(moe.metadata[key] == dense.metadata[key], "metadata \(key)")
        }
        for info in dense.tensors where !info.name.contains(".ffn_gate.") && !info.name.contains(".ffn_up.") && !info.name.contains(".ffn_down.") {
            let copy = try #require(moe.info(info.name), "\(info.name) missing")
            #expect(copy.dimensions == info.dimensions && copy.type == info.type)
            #expect(bytes(moe, copy).elementsEqual(bytes(dense, info)), "\(info.name) differs from the dense file")
        }
        for name in ["ffn_gate", "ffn_up", "ffn_down"] { #expect(moe.info("blk.0.\(name).weight") == nil) }
        let layers = try dense.metadata.int("llama.block_count")
        #expect(moe.tensors.count == dense.tensors.count + layers, "one router more per layer")
    }

    @Test func upcycledModelCopiesTheDenseFFNIntoEveryExpertAndRoutesByGroupMeans() throws {
        let (moe, sha, size, directory) = try Self.build("smollm2-135m-moe")
        defer { directory.remove() }
        let entry = try #require(ModelCatalog.standard.entry(id: "smollm2-135m-moe"))
        #expect(sha == entry.sha256 && size == entry.bytes, "the build differs from the catalog's pinned file")
        let dense = try GGUFFile(path: try TestModels.path(Self.dense))
        try Self.expectSharedParts(moe, dense, experts: 8, used: 2, width: 1536)
        for layer in 0..<30 {
            for (name, expertName, shape) in [("ffn_gate", "ffn_gate_exps", [576, 1536, 8]), ("ffn_up", "ffn_up_exps", [576, 1536, 8]),
                                               ("ffn_down", "ffn_down_exps", [1536, 576, 8])] {
                let d = try #require(dense.info("blk.\(layer).\(name).weight"))
                let x = try #require(moe.info("blk.\(layer).\(expertName).weight"))
                #expect(x.dimensions == shape && x.type == d.type)
                let all = Self.bytes(moe, x), one = Self.bytes(dense, d)
                for e in 0..<8 {
                    #expect(UnsafeRawBufferPointer(rebasing: all[e * one.count..<(e + 1) * one.count]).elementsEqual(one),
                            "layer \(layer) \(expertName) expert \(e) is not the dense matrix")
                }
            }
        }
        // Router of layer 7: row e = mean of the dense gate rows 192e ..< 192e + 192, dequantised here.
        let gate = try #require(dense.info("blk.7.ffn_gate.weight"))
        let router = try #require(moe.info("blk.7.ffn_gate_inp.weight"))
        #expect(router.dimensions == [576, 8] && router.type == .f32)
        let logits = moe.data(for: router).assumingMemoryBound(to: Float.self)
        var distinct = Set<Int>()
        for e in 0..<8 {
            var mean = [Double](repeating: 0, count: 576)
            for n in e * 192..<(e + 1) * 192 { for (c, v) in Self.dequantized(dense, gate, row: n).enumerated() { mean[c] += Double(v) / 192 } }
            for c in 0..<576 { #expect(abs(Double(logits[e * 576 + c]) - mean[c]) <= 1e-6 * max(1, abs(mean[c])), "router row \(e) column \(c)") }
            distinct.insert(Int(logits[e * 576].bitPattern))
        }
        #expect(distinct.count == 8, "router rows must differ so that routing depends on the token")
    }

    @Test func splitModelCutsTheNeuronsIntoEightExpertsWithDownScaledByEight() throws {
        let (moe, sha, size, directory) = try Self.build("smollm2-135m-moe-split")
        defer { directory.remove() }
        let entry = try #require(ModelCatalog.standard.entry(id: "smollm2-135m-moe-split"))
        #expect(sha == entry.sha256 && size == entry.bytes, "the build differs from the catalog's pinned file")
        let dense = try GGUFFile(path: try TestModels.path(Self.dense))
        try Self.expectSharedParts(moe, dense, experts: 8, used: 8, width: 192)
        for layer in 0..<30 {
            for (name, expertName) in [("ffn_gate", "ffn_gate_exps"), ("ffn_up", "ffn_up_exps")] {
                let d = try #require(dense.info("blk.\(layer).\(name).weight"))
                let x = try #require(moe.info("blk.\(layer).\(expertName).weight"))
                #expect(x.dimensions == [576, 192, 8] && x.type == d.type)
                #expect(Self.bytes(moe, x).elementsEqual(Self.bytes(dense, d)), "layer \(layer) \(expertName): rows are not the dense rows")
            }
            let router = try #require(moe.info("blk.\(layer).ffn_gate_inp.weight"))
            #expect(router.dimensions == [576, 8] && Self.bytes(moe, router).allSatisfy { $0 == 0 })
            let down = try #require(moe.info("blk.\(layer).ffn_down_exps.weight"))
            #expect(down.dimensions == [192, 576, 8])
        }
        // Expert e's down row r = 8 x columns 192e ..< 192e + 192 of the dense row r, exactly.
        for layer in [0, 13, 29] {
            let d = try #require(dense.info("blk.\(layer).ffn_down.weight"))
            let x = try #require(moe.info("blk.\(layer).ffn_down_exps.weight"))
            for r in stride(from: 0, to: 576, by: 23) {
                let row = Self.dequantized(dense, d, row: r)
                for e in 0..<8 {
                    let slice = Self.dequantized(moe, x, row: e * 576 + r)
                    let expected = row[e * 192..<(e + 1) * 192].map { $0 * 8 }
                    #expect(slice.map(\.bitPattern) == expected.map(\.bitPattern), "layer \(layer) row \(r) expert \(e)")
                }
            }
        }
    }

    /// `chorus pull` of a derived model: the base is used from the cache, the file appears only once it
    /// hashes to the catalog's sum, a leftover partial file is never taken for the model, and a wrong
    /// sum leaves nothing behind.
    @Test func storeBuildsDerivedModelsAtomically() throws {
        let home = try TemporaryDirectory("moe-store")
        defer { home.remove() }
        let catalog = ModelCatalog.standard
        let base = try #require(catalog.entry(id: Self.dense))
        let split = try #require(catalog.entry(id: "smollm2-135m-moe-split"))
        try FileManager.default.createDirectory(atPath: home.path + "/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try TestModels.path(Self.dense), toPath: home.path + "/models/" + base.file)

        let store = ModelStore(home: home.path, catalog: catalog, fetcher: NoFetcher(), progress: .silent)
        let target = store.path(for: split)
        try Data("half a model".utf8).write(to: URL(fileURLWithPath: target + ".partial"))
        #expect(!store.isCached(split))
        #expect(throws: ModelStoreError.notCached(id: split.id)) { try store.resolve(split.id, fetch: false) }
        #expect(try store.resolve(split.id) == target)
        try store.verify(split)
        #expect(home.files() == ["models/" + base.file, "models/" + split.file])

        var wrong = split
        wrong.id = "wrong"
        wrong.file = "wrong.gguf"
        wrong.sha256 = String(repeating: "0", count: 64)
        let store2 = ModelStore(home: home.path, catalog: ModelCatalog(models: [base, wrong]), fetcher: NoFetcher(), progress: .silent)
        #expect(throws: ModelStoreError.self) { try store2.pull(wrong) }
        #expect(home.files() == ["models/" + base.file, "models/" + split.file], "a derivation that did not verify left a file")

        var orphan = split
        orphan.derivation?.base = "no-such-model"
        orphan.file = "orphan.gguf"
        let store3 = ModelStore(home: home.path, catalog: ModelCatalog(models: [orphan]), fetcher: NoFetcher(), progress: .silent)
        #expect(throws: ModelStoreError.unknownModel("no-such-model", known: [split.id])) { try store3.pull(orphan) }
    }

    @Test func badDerivationsGiveOneLineErrors() throws {
        let dense = try GGUFFile(path: try TestModels.path(Self.dense))
        let cases: [(ModelDerivation, String)] = [
            (.init(base: "x", method: .upcycle, experts: 7, used: 2), "1536 FFN neurons do not split into 7 equal experts"),
            (.init(base: "x", method: .upcycle, experts: 8, used: 9), "9 of 8 experts is not a valid routing"),
            (.init(base: "x", method: .split, experts: 8, used: 2), "a split model uses every expert"),
            // 1536 / 64 = 24 columns per expert: not whole Q4_1 blocks of 32.
            (.init(base: "x", method: .split, experts: 64, used: 64), "not a whole number of Q4_1 blocks"),
        ]
        for (derivation, message) in cases {
            do {
                try MoEDerivation.write(from: dense, derivation) { _ in }
                Issue.record("\(derivation) was accepted")
            } catch let error as DerivationError {
                #expect(error.description.contains(message), "\(error)")
                #expect(!error.description.contains("\n"))
            }
        }
    }
}

/// A fetcher for stores whose models are all cached or derived: any fetch is a test failure.
struct NoFetcher: PackageFetcher {
    func fetch(_ package: ModelPackage, to path: String) throws {
        Issue.record("unexpected fetch of \(package.requirement)")
        throw ModelStoreError.downloadFailed(package: package.name, detail: "no fetching in this test")
    }
}
