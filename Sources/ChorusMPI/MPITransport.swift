import CMPI
import ChorusTransport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Transport` over MPI (Open MPI): the only code in Chorus that calls MPI.
///
/// Every operation is non-blocking underneath (`MPI_Isend`, `MPI_Irecv`, `MPI_Iallreduce`,
/// `MPI_Iallgather`, `MPI_Ialltoallv`, `MPI_Ibarrier`) and waited for with a deadline, so a dead peer ends in an error,
/// not a hang. Errors are returned (MPI_ERRORS_RETURN), not fatal. Only the thread that created the
/// transport calls MPI (MPI_THREAD_FUNNELED).
public final class MPITransport: Transport {
    public let rank: Int
    public let size: Int
    public let hostName: String
    public var timeout: Double
    private var finalized = false

    /// Whether this process was started by an MPI launcher (mpirun/mpiexec/srun), judged from the
    /// environment the launchers set; a plain `chorus` run never initialises MPI.
    public static var launchedByMPI: Bool {
        let names = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"]
        return names.contains { getenv($0) != nil }
    }

    /// Initialises MPI (once per process).
    public init(timeout: Double = 60) throws {
        var provided: Int32 = 0
        var argc: Int32 = 0
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let code = MPI_Init_thread(&argc, &argv, chorus_mpi_thread_funneled(), &provided)
        guard code == chorus_mpi_success() else { throw TransportError.failed("MPI_Init_thread failed (\(code))") }
        guard provided >= chorus_mpi_thread_funneled() else {
            throw TransportError.failed("this MPI library does not support MPI_THREAD_FUNNELED")
        }
        _ = chorus_mpi_errors_return(chorus_mpi_comm_world())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(chorus_mpi_comm_world(), &r)
        MPI_Comm_size(chorus_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        hostName = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.timeout = timeout
    }

    /// Ends MPI cleanly (every rank must call it; after a failure use `abort`).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    public func startSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: Int) throws -> any TransportRequest {
        try checkPeer(peer)
        let request = MPIRequest()
        try check(MPI_Isend(bytes.baseAddress, Int32(bytes.count), chorus_mpi_byte(), Int32(peer), Int32(tag),
                            chorus_mpi_comm_world(), &request.handle), "sending \(bytes.count) bytes to rank \(peer)")
        return request
    }

    public func startReceive(into bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: Int) throws -> any TransportRequest {
        try checkPeer(peer)
        let request = MPIRequest()
        try check(MPI_Irecv(bytes.baseAddress, Int32(bytes.count), chorus_mpi_byte(), Int32(peer), Int32(tag),
                            chorus_mpi_comm_world(), &request.handle), "receiving \(bytes.count) bytes from rank \(peer)")
        return request
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>, group: TransportGroup?) throws {
        let comm = (group as? MPIGroup)?.comm ?? chorus_mpi_comm_world()
        let request = MPIRequest()
        try check(MPI_Iallreduce(chorus_mpi_in_place(), values.baseAddress, Int32(values.count), chorus_mpi_float(), chorus_mpi_sum(),
                                 comm, &request.handle), "all-reduce of \(values.count) floats")
        try wait(request, for: "an all-reduce of \(values.count) floats")
    }

    public func allGather(_ values: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>,
                          group: TransportGroup?) throws {
        let comm = (group as? MPIGroup)?.comm ?? chorus_mpi_comm_world()
        let ranks = group?.size ?? size
        guard receive.count == ranks * values.count else {
            throw TransportError.failed("all-gather of \(values.count) floats from \(ranks) ranks needs \(ranks * values.count) floats, got \(receive.count)")
        }
        let request = MPIRequest()
        try check(MPI_Iallgather(values.baseAddress, Int32(values.count), chorus_mpi_float(), receive.baseAddress, Int32(values.count),
                                 chorus_mpi_float(), comm, &request.handle), "all-gather of \(values.count) floats")
        try wait(request, for: "an all-gather of \(values.count) floats")
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        let n = bytes.count
        var all = [UInt8](repeating: 0, count: n * size)
        let request = MPIRequest()
        try bytes.withUnsafeBytes { send in
            try all.withUnsafeMutableBytes { receive in
                try check(MPI_Iallgather(send.baseAddress, Int32(n), chorus_mpi_byte(), receive.baseAddress, Int32(n), chorus_mpi_byte(),
                                         chorus_mpi_comm_world(), &request.handle), "all-gather of \(n) bytes")
                try wait(request, for: "every rank to reach the start-up check")
            }
        }
        return (0..<size).map { Array(all[$0 * n..<($0 + 1) * n]) }
    }

    public func startAllToAllV(_ send: UnsafeRawBufferPointer, sendCounts: [Int], into receive: UnsafeMutableRawBufferPointer,
                               receiveCounts: [Int], group: TransportGroup?) throws -> any TransportRequest {
        let comm = (group as? MPIGroup)?.comm ?? chorus_mpi_comm_world()
        let ranks = group?.size ?? size
        let sendDisplacements = try allToAllDisplacements(sendCounts, ranks: ranks, capacity: send.count, side: "send")
        let receiveDisplacements = try allToAllDisplacements(receiveCounts, ranks: ranks, capacity: receive.count, side: "receive")
        // MPI reads the four arrays until the operation completes: the request owns them.
        let request = MPIRequest()
        let arrays = CountArrays([sendCounts, sendDisplacements, receiveCounts, receiveDisplacements])
        request.retained = arrays
        // MPI wants non-null buffers even for zero counts.
        var placeholder: UInt8 = 0
        try withUnsafeMutablePointer(to: &placeholder) { dummy in
            try check(MPI_Ialltoallv(send.baseAddress ?? UnsafeRawPointer(dummy), arrays[0], arrays[1], chorus_mpi_byte(),
                                     receive.baseAddress ?? UnsafeMutableRawPointer(dummy), arrays[2], arrays[3], chorus_mpi_byte(),
                                     comm, &request.handle),
                      "all-to-all of \(sendCounts.reduce(0, +)) bytes out, \(receiveCounts.reduce(0, +)) in")
        }
        return request
    }

    public func barrier() throws {
        let request = MPIRequest()
        try check(MPI_Ibarrier(chorus_mpi_comm_world(), &request.handle), "barrier")
        try wait(request, for: "every rank to reach a barrier")
    }

    public func makeGroup(color: Int) throws -> TransportGroup {
        var comm: MPI_Comm? = chorus_mpi_comm_null()
        try check(MPI_Comm_split(chorus_mpi_comm_world(), Int32(color), Int32(rank), &comm), "splitting ranks into groups")
        _ = chorus_mpi_errors_return(comm)
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        return MPIGroup(comm: comm!, rank: Int(r), size: Int(s))
    }

    public func abort(code: Int32, message: String) -> Never {
        let line = message.hasSuffix("\n") ? message : message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        MPI_Abort(chorus_mpi_comm_world(), code)
        exit(code)
    }

    private func checkPeer(_ peer: Int) throws {
        guard peer >= 0 && peer < size else { throw TransportError.peerOutOfRange(peer, size: size) }
    }

    private func check(_ code: Int32, _ what: String) throws {
        guard code != chorus_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(chorus_mpi_max_error_string()) + 1)
        let length = chorus_mpi_error_string(code, &text)
        throw TransportError.failed("MPI error while \(what): \(length > 0 ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "code \(code)")")
    }
}

/// One MPI request; completes through `MPI_Test`.
final class MPIRequest: TransportRequest {
    var handle: MPI_Request? = chorus_mpi_request_null()
    /// Memory MPI reads until the request completes (an all-to-all-v's counts and displacements).
    var retained: AnyObject?
    private var done = false

    func test() throws -> Bool {
        if done { return true }
        var flag: Int32 = 0
        let code = chorus_mpi_test(&handle, &flag)
        guard code == chorus_mpi_success() else { throw TransportError.failed("MPI_Test failed (code \(code)): a peer may have died") }
        done = flag != 0
        return done
    }

    func cancel() {
        guard !done, handle != chorus_mpi_request_null() else { return }
        MPI_Cancel(&handle)
        var flag: Int32 = 0
        _ = chorus_mpi_test(&handle, &flag)
        if flag == 0 { MPI_Request_free(&handle) }
        done = true
    }
}

/// Int32 arrays handed to a non-blocking MPI collective, freed with the request that holds them.
final class CountArrays {
    private let storage: [UnsafeMutablePointer<Int32>]

    init(_ arrays: [[Int]]) {
        storage = arrays.map { values in
            let pointer = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, values.count))
            for (i, value) in values.enumerated() { pointer[i] = Int32(value) }
            return pointer
        }
    }

    subscript(index: Int) -> UnsafeMutablePointer<Int32> { storage[index] }

    deinit { storage.forEach { $0.deallocate() } }
}

/// A communicator made by `MPI_Comm_split`.
final class MPIGroup: TransportGroup {
    let comm: MPI_Comm
    let rank: Int
    let size: Int

    init(comm: MPI_Comm, rank: Int, size: Int) {
        self.comm = comm
        self.rank = rank
        self.size = size
    }
}
