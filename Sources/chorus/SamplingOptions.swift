import ArgumentParser
import Chorus

/// Sampling flags with llama.cpp's names and defaults.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Temperature; 0 picks the most likely token (greedy).", range: 0...100) var temperature: Float = 0.8
    @Option(name: .long, help: "Keep the k most likely tokens (0: all).", range: 0...Int(Int32.max)) var topK: Int = 40
    @Option(name: .long, help: "Nucleus sampling threshold, above 0 (1: off).", range: 0...1) var topP: Float = 0.95
    @Option(name: .long, help: "Drop tokens below min-p times the best one's probability (0: off).", range: 0...1) var minP: Float = 0.05
    @Option(name: .long, help: "Penalty for recently seen tokens, above 0 (1: off).", range: 0...100) var repeatPenalty: Float = 1.0
    @Option(name: .long, help: "How many recent tokens the repeat penalty considers.", range: 0...NumberArgument.maxTokens) var repeatLastN: Int = 64
    @Option(name: .long, help: "Random seed (default: random); the same seed gives the same output.", range: 0...UInt64.max) var seed: UInt64?

    var parameters: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.repeatPenalty = repeatPenalty
        p.repeatLastN = repeatLastN
        p.seed = seed ?? UInt64.random(in: 0...UInt64.max)
        return p
    }

    func validate() throws {
        do { try parameters.validate() } catch { throw ValidationError("\(error)") }
    }
}
