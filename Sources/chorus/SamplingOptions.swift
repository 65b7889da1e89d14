import ArgumentParser
import Chorus

/// Sampling flags with llama.cpp's names and defaults.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Temperature; 0 picks the most likely token (greedy).") var temperature: Float = 0.8
    @Option(name: .long, help: "Keep the k most likely tokens (0: all).") var topK: Int = 40
    @Option(name: .long, help: "Nucleus sampling threshold (1: off).") var topP: Float = 0.95
    @Option(name: .long, help: "Drop tokens below min-p times the best one's probability (0: off).") var minP: Float = 0.05
    @Option(name: .long, help: "Penalty for recently seen tokens (1: off).") var repeatPenalty: Float = 1.0
    @Option(name: .long, help: "How many recent tokens the repeat penalty considers.") var repeatLastN: Int = 64
    @Option(name: .long, help: "Random seed (default: random); the same seed gives the same output.") var seed: UInt64?

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
