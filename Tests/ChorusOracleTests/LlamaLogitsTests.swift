import Chorus
import ChorusTestSupport
import Foundation
import Testing

/// Raw logits against llama.cpp's, bit for bit, when `CHORUS_LLAMA_LOGITS` names a directory of
/// float32 dumps made by python llama_cpp for the greedy prompts of `Tests/Fixtures/oracle/<model>.json`
/// (`ref_greedy_<case>.f32`: the prompt's last row, then 8 greedy single-token steps;
/// `ref_all_<case>.f32`: every prompt row). `CHORUS_LLAMA_LOGITS_MODEL` picks the model
/// (default qwen2.5-coder-1.5b). Skipped without the dumps.
@Suite(.serialized) struct LlamaLogitsTests {
    static let directory = ProcessInfo.processInfo.environment["CHORUS_LLAMA_LOGITS"] ?? ""
    static let model = ProcessInfo.processInfo.environment["CHORUS_LLAMA_LOGITS_MODEL"] ?? "qwen2.5-coder-1.5b"

    static func read(_ name: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func describe(_ got: UnsafeBufferPointer<Float>, _ expected: ArraySlice<Float>) -> (Int, Float) {
        var differing = 0, worst: Float = 0
        for (a, b) in zip(got, expected) where a.bitPattern != b.bitPattern {
            differing += 1
            worst = max(worst, abs(a - b))
        }
        return (differing, worst)
    }

    @Test(.enabled(if: !directory.isEmpty)) func logitsEqualLlamaCpp() throws {
        let oracle = try Oracle.load(Self.model)
        let llamaCpp = ProcessInfo.processInfo.environment["CHORUS_LLAMA_ROUNDING"] != nil
        let model = try LanguageModel.load(try TestModels.path(Self.model), threads: 2, context: 512, maxBatch: 64)
            .with { $0.rounding = llamaCpp ? .llamaCpp : .batchInvariant }
        let v = model.transformer.config.vocabularySize
        for (ci, greedy) in oracle.greedy.enumerated() {
            let ids = greedy.prompt_ids
            if let expected = Self.read("ref_greedy_\(ci).f32") {
                let cache = model.makeCache()
                var logits = try model.transformer.forward(.sequence(ids, start: 0), cache: cache)
                for step in 0..<expected.count / v {
                    let row = logits.row(0)
                    let (n, worst) = Self.describe(row, expected[step * v..<(step + 1) * v])
                    print("case \(ci) greedy step \(step): \(n) of \(v) logits differ, max |diff| \(worst)")
                    #expect(n == 0, "case \(ci) step \(step)")
                    let best = Sampler.argmax(row)
                    logits = try model.transformer.forward(.sequence([best], start: cache.count), cache: cache)
                }
            }
            if let expected = Self.read("ref_all_\(ci).f32") {
                let cache = model.makeCache()
                let logits = try model.transformer.forward(.sequence(ids, start: 0, logits: .all), cache: cache)
                for r in 0..<ids.count {
                    let (n, worst) = Self.describe(logits.row(r), expected[r * v..<(r + 1) * v])
                    print("case \(ci) all-logits row \(r): \(n) of \(v) logits differ, max |diff| \(worst)")
                    #expect(n == 0, "case \(ci) row \(r)")
                }
            }
        }
    }
}
