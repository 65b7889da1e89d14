import Chorus
import Foundation
#if canImport(ChorusMPI)
import ChorusMPI
#endif

/// What a command runs and how: the model, its threads and context, and the split across ranks
/// when the process was started by `mpirun` with a distributed plan.
public struct RunOptions: Sendable {
    public var model: String
    public var threads: Int
    public var context: Int?
    public var maxBatch: Int
    /// llama.cpp's batch rounding (a single process only: a split run needs batch invariance).
    public var llamaCppRounding: Bool
    /// The split; nil runs the whole model in this process.
    public var distributed: DistributedPlan?
    /// Where rank 0 writes every rank's intervals (`distributed.trace` on).
    public var tracePath: String?
    /// Seconds a rank waits for another before failing the run.
    public var commTimeout: Double

    public init(model: String, threads: Int, context: Int?, maxBatch: Int, llamaCppRounding: Bool = false,
                distributed: DistributedPlan? = nil, tracePath: String? = nil, commTimeout: Double = 60) {
        self.model = model
        self.threads = threads
        self.context = context
        self.maxBatch = maxBatch
        self.llamaCppRounding = llamaCppRounding
        self.distributed = distributed
        self.tracePath = tracePath
        self.commTimeout = commTimeout
    }
}

/// The model a command runs: on rank 0 (or in a plain run) a `LanguageModel` to drive, on the other
/// ranks nothing (they served their part inside `start` and are done). In a distributed run every
/// rank learns its role, failures end every rank with a message (collective checks at start-up,
/// an abort for failures on one rank, a notice when the launcher terminates a rank), and the run
/// ends with MPI finalized everywhere.
public final class ModelRun {
    public let model: LanguageModel?
    private let end: (Bool) -> Void

    private init(model: LanguageModel?, end: @escaping (Bool) -> Void) {
        self.model = model
        self.end = end
    }

    /// Loads the model as `options` say; in a distributed run, checks and loads every rank's part
    /// and, on ranks other than 0, serves until rank 0 finishes (then exits on failure).
    public static func start(_ options: RunOptions) throws -> ModelRun {
        guard let plan = options.distributed, plan.stages * plan.slices > 1 else {
            if launchedByMPI, let size = mpiWorldSize, size > 1 {
                throw DistributedError.invalidSetup("started by mpirun with \(size) ranks but without --pipeline-stages or --tensor-parallel")
            }
            let loaded = try LanguageModel.load(options.model, threads: options.threads, context: options.context,
                                                maxBatch: options.maxBatch, store: ModelStore(progress: .standardError()))
            let model = options.llamaCppRounding ? try loaded.with { $0.rounding = .llamaCpp } : loaded
            return ModelRun(model: model) { _ in }
        }
        guard !options.llamaCppRounding else {
            throw DistributedError.invalidSetup("--llama-cpp-rounding makes a row's bits depend on its batch; a split run needs batch invariance")
        }
        #if canImport(ChorusMPI)
        return try startDistributed(options, plan: plan)
        #else
        throw DistributedError.invalidSetup("this chorus was built without MPI: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and rebuild")
        #endif
    }

    #if canImport(ChorusMPI)
    private static func startDistributed(_ options: RunOptions, plan: DistributedPlan) throws -> ModelRun {
        guard MPITransport.launchedByMPI else {
            throw DistributedError.invalidSetup("--pipeline-stages/--tensor-parallel run under MPI: mpirun -np \(plan.stages * plan.slices) chorus ...")
        }
        let transport = try MPITransport(timeout: options.commTimeout)
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
            session = try DistributedSession(transport: transport, modelPath: path, modelName: options.model, threads: options.threads,
                                             context: options.context, maxBatch: options.maxBatch, plan: plan)
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
            return ModelRun(model: nil) { _ in }
        }
        for line in session.summary { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        return ModelRun(model: session.model) { failed in
            do {
                let trace = try session.finish(failed: failed)
                if let trace, let path = options.tracePath {
                    try trace.encoded().write(to: URL(fileURLWithPath: path))
                    FileHandle.standardError.write(Data("trace: \(path)\n".utf8))
                }
            } catch {
                fail(error, abort: true)
            }
            transport.finalize()
        }
    }
    #endif

    /// Runs `body` on rank 0's model (nothing on other ranks), then ends the distributed run: the
    /// other ranks stop, the trace is written. After an error here they stop too and it is rethrown.
    public func drive(_ body: (LanguageModel) throws -> Void) throws {
        guard let model else { return }
        do {
            try body(model)
        } catch {
            end(true)
            throw error
        }
        end(false)
    }

    /// Whether an MPI launcher started this process (judged from the environment it sets).
    public static var launchedByMPI: Bool {
        ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { ProcessInfo.processInfo.environment[$0] != nil }
    }

    static var mpiWorldSize: Int? {
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
