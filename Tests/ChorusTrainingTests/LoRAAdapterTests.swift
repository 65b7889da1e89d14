import Chorus
import ChorusGGUF
import ChorusTestSupport
import ChorusTraining
import Foundation
import Testing

@Suite struct LoRAAdapterTests {
    static func model() throws -> GGUFFile { try GGUFFile(path: try TestModels.path("smollm2-135m")) }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-lora-\(UUID().uuidString)-\(name)").path
    }

    /// The initialisation reproduces the reference script's values bit for bit (every sampled position of
    /// every factor) and their norms.
    @Test func initialisationMatchesReference() throws {
        let fixture = try ReferenceFixture.load()
        let initialisation = LoRAInitialisation(seed: fixture.seed, bScale: Float(fixture.b_scale))
        #expect(fixture.tensors.count == 30 * 7 * 2)
        for t in fixture.tensors {
            let isB = t.name.hasSuffix("lora_b")
            let base = String(t.name.dropLast(7))
            let parts = base.split(separator: ".")
            let layer = Int(parts[1])!, target = LoRATarget(tensorName: String(parts[2]))!
            let (inputs, outputs) = isB ? (0, t.dims[1]) : (t.dims[0], 0)
            let values = initialisation.values(layer: layer, target: target, isB: isB, rank: fixture.rank, inputs: inputs, outputs: outputs)
            #expect(UInt64(t.stream) == LoRAInitialisation.stream(layer: layer, target: target, isB: isB))
            for (position, expected) in zip(t.positions, t.initial) {
                #expect(values[position] == Float(expected), "\(t.name)[\(position)] = \(values[position]), reference \(expected)")
            }
            let norm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - t.norm_initial) <= 1e-9 * t.norm_initial, "\(t.name) norm \(norm) vs \(t.norm_initial)")
        }
    }

    @Test func writesAndReadsBackLlamaCppLayout() throws {
        let model = try Self.model()
        let configuration = try LoRAConfiguration(rank: 4, alpha: 8, targets: [.q, .v, .down])
        let adapter = try LoRAAdapter(model: model, configuration: configuration, initialisation: LoRAInitialisation(seed: 3, bScale: 0.01))
        let path = Self.temporary("a.gguf")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try adapter.write(to: path)
        let file = try GGUFFile(path: path)
        #expect(file.metadata["general.type"]?.stringValue == "adapter")
        #expect(file.metadata["adapter.type"]?.stringValue == "lora")
        #expect(file.metadata["general.architecture"]?.stringValue == "llama")
        #expect(file.metadata["adapter.lora.alpha"] == .float32(8))
        let a = try #require(file.info("blk.7.attn_q.weight.lora_a")), b = try #require(file.info("blk.7.attn_q.weight.lora_b"))
        #expect(a.dimensions == [576, 4] && b.dimensions == [4, 576] && a.type == .f32 && b.type == .f32)
        #expect(file.info("blk.29.ffn_down.weight.lora_a")?.dimensions == [1536, 4])
        #expect(file.info("blk.29.ffn_down.weight.lora_b")?.dimensions == [4, 576])
        #expect(file.info("blk.0.attn_v.weight.lora_b")?.dimensions == [4, 192])
        #expect(file.info("blk.0.attn_k.weight.lora_a") == nil)
        #expect(file.tensors.count == 30 * 3 * 2)

        let back = try LoRAAdapter.load(path: path, model: model)
        #expect(back.alpha == 8 && back.architecture == "llama" && back.pairs.count == adapter.pairs.count)
        for (x, y) in zip(back.pairs, adapter.pairs) {
            #expect(x.baseName == y.baseName && x.rank == 4)
            #expect(x.a.values.map(\.bitPattern) == y.a.values.map(\.bitPattern))
            #expect(x.b.values.map(\.bitPattern) == y.b.values.map(\.bitPattern))
        }
        #expect(back.scale(of: back.pairs[0], loraScale: 0.5) == 1)  // 0.5 * 8 / 4
    }

    /// Adapters that do not fit: another model's shapes, a tensor the model lacks, a missing half, not an
    /// adapter at all.
    @Test func badAdaptersAreClearErrors() throws {
        let model = try Self.model()
        func write(_ metadata: [(String, GGUFValue)], _ tensors: [(String, [Int])]) throws -> String {
            var writer = GGUFWriter(metadata: GGUFMetadata(metadata))
            for (name, dims) in tensors { writer.add(name, dimensions: dims, floats: Array(repeating: 0.5, count: dims.reduce(1, *))) }
            let path = Self.temporary("bad.gguf")
            try AtomicFile.write(writer.serialise(), to: path)
            return path
        }
        let header: [(String, GGUFValue)] = [("general.architecture", .string("llama")), ("general.type", .string("adapter")),
                                             ("adapter.type", .string("lora")), ("adapter.lora.alpha", .float32(16))]
        let cases: [([(String, GGUFValue)], [(String, [Int])], String)] = [
            (header, [("blk.0.attn_q.weight.lora_a", [896, 8]), ("blk.0.attn_q.weight.lora_b", [8, 896])],
             "the adapter's 'blk.0.attn_q.weight' is 896 x 896 but the model's is 576 x 576 (an adapter made for another model?)"),
            (header, [("blk.30.attn_q.weight.lora_a", [576, 8]), ("blk.30.attn_q.weight.lora_b", [8, 576])],
             "the adapter's tensor 'blk.30.attn_q.weight' does not exist in the model (maybe another base model?)"),
            (header, [("blk.0.attn_q.weight.lora_a", [576, 8])], "the LoRA pair for 'blk.0.attn_q.weight' is missing its lora_b"),
            (header, [("blk.0.attn_q.weight.lora_a", [576, 8]), ("blk.0.attn_q.weight.lora_b", [4, 576])],
             "lora_a of 'blk.0.attn_q.weight' is not transposed (rank 8 vs lora_b's 4)"),
            (header, [("blk.0.attn_q.weight.lora_x", [576, 8])], "tensor 'blk.0.attn_q.weight.lora_x' has an unexpected suffix (expected .lora_a or .lora_b)"),
            ([("general.architecture", .string("llama")), ("general.type", .string("model"))], [],
             "general.type is 'model', expected 'adapter' (is this a model, not an adapter?)"),
            ([("general.architecture", .string("qwen2")), ("general.type", .string("adapter")), ("adapter.type", .string("lora"))],
             [("blk.0.attn_q.weight.lora_a", [576, 8]), ("blk.0.attn_q.weight.lora_b", [8, 576])],
             "the adapter is for architecture 'qwen2' but the model is 'llama'"),
        ]
        for (metadata, tensors, message) in cases {
            let path = try write(metadata, tensors)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try LoRAAdapter.load(path: path, model: model)
                Issue.record("loaded a bad adapter: expected \(message)")
            } catch let error as TrainingError {
                #expect(error.description.hasSuffix(message), "\(error)")
                #expect(!error.description.contains("\n"))
            }
        }
        #expect(throws: TrainingError.self) { try LoRAAdapter.load(path: "/nonexistent/adapter.gguf") }
    }

    /// llama.cpp loaded exactly these bytes: scripts/training-reference/llama_lora_check.py wrote an adapter
    /// with Chorus (ChorusTrainingCheck write-adapter), ran llama-perplexity with and without `--lora`, and
    /// recorded the file's SHA-256 and both perplexities. The writer must still produce those bytes.
    @Test func llamaCppLoadedTheseBytes() throws {
        let url = ReferenceFixture.directory.appendingPathComponent("llama-lora-check.json")
        let check = try JSONSerialization.jsonObject(with: try Data(contentsOf: url)) as! [String: Any]
        let configuration = try LoRAConfiguration(rank: check["rank"] as! Int, alpha: Float(check["alpha"] as! Double),
                                                  targets: try LoRATarget.parseList(check["targets"] as! String))
        let initialisation = LoRAInitialisation(seed: UInt64(check["seed"] as! Int), bScale: Float(check["b_scale"] as! Double))
        let adapter = try LoRAAdapter(model: try Self.model(), configuration: configuration, initialisation: initialisation)
        #expect(SHA256.hex(SHA256.hash(adapter.serialised())) == check["adapter_sha256"] as? String, "the adapter bytes changed: rerun the script")
        let tensors = check["llama_loaded_tensors"] as! Int
        #expect(tensors == adapter.pairs.count * 2, "llama.cpp loaded \(tensors) tensors")
        let base = check["perplexity_base"] as! Double, lora = check["perplexity_lora"] as! Double
        #expect(base.isFinite && lora.isFinite && abs(lora - base) > 1e-3 * base, "the adapter did not change llama.cpp's perplexity (\(base) vs \(lora))")
    }
}
