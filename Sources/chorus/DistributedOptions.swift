import ArgumentParser
import Chorus
import ChorusDistributed

/// Forward-only pipeline orders. Without backward passes GPipe and 1F1B are the same order (each
/// stage runs micro-batches as they arrive), so both are accepted and run alike.
enum InferenceScheduleChoice: String, ExpressibleByArgument, CaseIterable {
    case gpipe
    case oneFOneB = "1f1b"
}

/// How stages are balanced.
enum BalanceChoice: String, ExpressibleByArgument, CaseIterable {
    case measured, layers
}

/// Options for running one model across processes (under `mpirun`).
struct DistributedOptions: ParsableArguments {
    @Option(name: .customLong("pipeline-stages"), help: "Split the model's layers into P pipeline stages, one per rank group (run under mpirun -np P x T).", range: 1...256)
    var pipelineStages: Int = 1

    @Option(name: .customLong("tensor-parallel"), help: "Split each layer's attention heads and feed-forward rows across T ranks (Megatron-style).", range: 1...64)
    var tensorParallel: Int = 1

    @Option(help: "Cut each forward pass's rows (prompt, perplexity chunk) into K micro-batches so all stages work at once.", range: 1...4096)
    var microbatches: Int = 1

    @Option(help: "Pipeline order for the forward passes: gpipe or 1f1b (the same order without backward passes).")
    var schedule: InferenceScheduleChoice = .gpipe

    @Option(help: "Balance stages by measured per-layer cost (measured) or by layer count (layers).")
    var balance: BalanceChoice = .measured

    @Option(help: "Write every rank's compute and communication intervals to this JSON file (draw it with chorus pipeline draw).")
    var trace: String?

    @Option(name: .customLong("comm-timeout"), help: "Seconds a rank waits for another before failing the run.", range: 0.001...86400)
    var commTimeout: Double = 60

    var isDistributed: Bool { pipelineStages > 1 || tensorParallel > 1 }

    func validate() throws {
        if !isDistributed && trace != nil { throw ValidationError("--trace records a distributed run: add --pipeline-stages or --tensor-parallel") }
    }
}

extension DistributedOptions {
    /// How the library's `ModelRun` loads `options`' model with these options.
    func run(_ options: ModelOptions, maxBatch: Int) -> RunOptions {
        RunOptions(model: options.model, threads: options.threads, context: options.context, maxBatch: maxBatch,
                   llamaCppRounding: options.llamaCppRounding,
                   distributed: isDistributed ? DistributedPlan(stages: pipelineStages, slices: tensorParallel, microbatches: microbatches,
                                                                balanceByCost: balance == .measured, trace: trace != nil) : nil,
                   tracePath: trace, commTimeout: commTimeout)
    }
}
