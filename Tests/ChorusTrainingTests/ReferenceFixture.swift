import Foundation

/// Tests/Fixtures/training/smollm2-135m-lora.json, written by scripts/training-reference/lora_reference.py
/// (JAX, float64 on smollm2-135m's weights dequantised to f32): the loss and LoRA gradients of a short
/// sequence, and two AdamW steps, at sampled positions of every LoRA tensor.
struct ReferenceFixture: Decodable {
    struct AdamW: Decodable { var lr, b1, b2, eps, wd: Double }
    struct Tensor: Decodable {
        var name: String
        var dims: [Int]
        var stream: Int
        var norm_initial: Double
        var grad0_norm: Double
        var grad1_norm: Double
        /// The largest |g0| of the tensor (fixtures from before it was recorded lack it).
        var grad0_max: Double?
        var positions: [Int]
        var initial: [Double]
        var grad0: [Double]
        var step1: [Double]
        var grad1: [Double]
        var step2: [Double]
    }
    var model: String
    var tokens: [Int]
    var seed: UInt64
    var rank: Int
    var alpha: Double
    var b_scale: Double
    var targets: [String]
    var adamw: AdamW
    var loss0: Double
    var loss1: Double
    var base_loss: Double
    var tensors: [Tensor]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/training")
    }

    static func load() throws -> ReferenceFixture {
        let url = directory.appendingPathComponent("smollm2-135m-lora.json")
        return try JSONDecoder().decode(ReferenceFixture.self, from: try Data(contentsOf: url))
    }
}
