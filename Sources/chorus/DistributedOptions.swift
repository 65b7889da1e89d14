import ArgumentParser
import Chorus
import ChorusDistributed
import ChorusTransport
import Foundation
#if canImport(ChorusMPI)
import ChorusMPI
#endif

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

/// The model a command runs: on rank 0 (or in a plain run) a `LanguageModel` to drive, on the other
/// ranks nothing (they served their part inside `start` and are done).
final class ModelRun {
    let model: LanguageModel?
    private let session: DistributedSession?
    private let tracePath: String?
    private let end: (Bool) -> Void

    private init(model: LanguageModel?, session: DistributedSession?, tracePath: String?, end: @escaping (Bool) -> Void) {
        self.model = model
        self.session = session
        self.tracePath = tracePath
        self.end = end
    }

    /// Loads the model as the options say; in a distributed run, checks and loads every rank's part
    /// and, on ranks other than 0, serves until rank 0 finishes.
    static func start(_ options: ModelOptions, _ distributed: DistributedOptions, maxBatch: Int) throws -> ModelRun {
        guard distributed.isDistributed else {
            if launchedByMPI(), let size = mpiWorldSize(), size > 1 {
                throw ValidationError("started by mpirun with \(size) ranks but without --pipeline-stages or --tensor-parallel")
            }
            return ModelRun(model: try options.load(maxBatch: maxBatch), session: nil, tracePath: nil) { _ in }
        }
        guard !options.llamaCppRounding else {
            throw ValidationError("--llama-cpp-rounding makes a row's bits depend on its batch; a split run needs batch invariance")
        }
        #if canImport(ChorusMPI)
        guard MPITransport.launchedByMPI else {
            throw ValidationError("--pipeline-stages/--tensor-parallel run under MPI: mpirun -np \(distributed.pipelineStages * distributed.tensorParallel) chorus ...")
        }
        let transport = try MPITransport(timeout: distributed.commTimeout)
        TerminationNotice.install(rank: transport.rank)
        let rank = transport.rank
        func fail(_ error: Error, abort: Bool) -> Never {
            let line = "Error: rank \(rank) (\(transport.hostName)): \(error)"
            if abort { transport.abort(code: 1, message: line) }
            FileHandle.standardError.write(Data((line + "\n").utf8))
            transport.finalize()
            exit(1)
        }
        let session: DistributedSession
        do {
            let path = try ModelStore(progress: rank == 0 ? .standardError() : .silent).resolve(options.model)
            session = try DistributedSession(
                transport: transport, modelPath: path, modelName: options.model, threads: options.threads, context: options.context,
                maxBatch: maxBatch,
                plan: DistributedPlan(stages: distributed.pipelineStages, slices: distributed.tensorParallel,
                                      microbatches: distributed.microbatches, balanceByCost: distributed.balance == .measured,
                                      trace: distributed.trace != nil))
        } catch let error as DistributedError {
            // Start-up checks are collective: every rank reaches the same verdict and can end cleanly.
            fail(error, abort: false)
        } catch {
            // Anything else (the model missing on this host, a transfer failing) happened here only:
            // end every rank now rather than leave them waiting.
            fail(error, abort: true)
        }
        guard session.isDriver else {
            do {
                try session.serve()
            } catch DistributedError.peerStopped(let message) {
                FileHandle.standardError.write(Data("Error: rank \(rank): \(message)\n".utf8))
                transport.finalize()
                exit(1)
            } catch {
                fail(error, abort: true)
            }
            transport.finalize()
            return ModelRun(model: nil, session: nil, tracePath: nil) { _ in }
        }
        for line in session.summary { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        return ModelRun(model: session.model, session: session, tracePath: distributed.trace) { failed in
            do {
                let trace = try session.finish(failed: failed)
                if let trace, let path = distributed.trace {
                    try trace.encoded().write(to: URL(fileURLWithPath: path))
                    FileHandle.standardError.write(Data("trace: \(path)\n".utf8))
                }
            } catch {
                fail(error, abort: true)
            }
            transport.finalize()
        }
        #else
        throw ValidationError("this chorus was built without MPI: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and rebuild")
        #endif
    }

    /// Runs `body` on rank 0's model (nothing on other ranks), then ends the distributed run: the
    /// other ranks stop, the trace is written. After an error here they stop too and it is rethrown.
    func drive(_ body: (LanguageModel) throws -> Void) throws {
        guard let model else { return }
        do {
            try body(model)
        } catch {
            end(true)
            throw error
        }
        end(false)
    }

    static func launchedByMPI() -> Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { ProcessInfo.processInfo.environment[$0] != nil }
    }

    static func mpiWorldSize() -> Int? {
        let env = ProcessInfo.processInfo.environment
        return (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap { Int($0) }
    }
}

/// Prints one line when the launcher terminates this rank (because another rank failed), so every
/// rank says why it ended.
enum TerminationNotice {
    nonisolated(unsafe) static var line: [CChar] = []

    static func install(rank: Int) {
        line = Array("chorus rank \(rank): terminated by the MPI launcher (another rank failed or the run was stopped)\n".utf8CString)
        signal(SIGTERM) { _ in
            TerminationNotice.line.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
            _exit(143)
        }
    }
}
