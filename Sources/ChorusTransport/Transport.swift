/// How the ranks of one distributed run talk to each other: point-to-point transfers of plain values
/// (non-blocking, with requests), a sum all-reduce and an all-gather of floats, a barrier, and an abort that ends every
/// rank. MPI is the implementation today (`ChorusMPI`); another transport plugs in behind this protocol.
///
/// Threading: one thread per process (the caller's) drives the transport; the thread pool's workers
/// never call it. Every wait is bounded by `timeout`, so a dead or stuck peer becomes a
/// `TransportError.timedOut` instead of a hang.
public protocol Transport: AnyObject {
    /// This process's rank, 0..<size.
    var rank: Int { get }
    /// Ranks in the run.
    var size: Int { get }
    /// Host name of this rank (for error messages and stage maps).
    var hostName: String { get }
    /// Longest a single wait may take before it fails (seconds).
    var timeout: Double { get set }

    /// Starts sending `bytes` to `peer` under `tag`; the memory must stay valid and unchanged until
    /// the returned request completes.
    func startSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: Int) throws -> any TransportRequest
    /// Starts receiving a message of at most `bytes.count` bytes from `peer` under `tag` into `bytes`,
    /// valid once the request completes. Messages between two ranks under one tag arrive in order.
    func startReceive(into bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: Int) throws -> any TransportRequest
    /// Element-wise sum of `values` over the ranks of `group` (all ranks when nil), in place on each.
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>, group: TransportGroup?) throws
    /// Every rank's `bytes` (all the same length), in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Every rank of `group`'s `values` (all the same length), in group-rank order, into `receive`
    /// (group size x `values.count` floats) on each.
    func allGather(_ values: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>, group: TransportGroup?) throws
    /// Starts an all-to-all with variable counts over `group` (all ranks when nil), in bytes: this rank sends
    /// `sendCounts[p]` bytes to group rank p, taken from `send` contiguously in rank order, and receives
    /// `receiveCounts[p]` bytes from group rank p into `receive`, contiguously in rank order (its own part
    /// included). Counts may be zero; each array has one count per group rank, and the sender's count for a
    /// peer must equal that peer's receive count for it. Every rank of the group must start it, in the
    /// same order as its other collectives. The buffers and the returned request must stay alive, and
    /// `send` unchanged, until the request completes: compute can run meanwhile (dispatch and combine of
    /// expert parallelism hidden behind another micro-batch).
    func startAllToAllV(_ send: UnsafeRawBufferPointer, sendCounts: [Int], into receive: UnsafeMutableRawBufferPointer,
                        receiveCounts: [Int], group: TransportGroup?) throws -> any TransportRequest
    /// Returns once every rank has called it.
    func barrier() throws
    /// Makes a group of the listed ranks for collective operations (every rank calls it with the
    /// same partition; a rank gets the group it is in).
    func makeGroup(color: Int) throws -> TransportGroup
    /// Ends every rank of the run now with `code`, after printing `message` on this rank's stderr.
    func abort(code: Int32, message: String) -> Never
}

/// A sub-set of ranks for collectives (tensor-parallel groups); opaque to callers.
public protocol TransportGroup: AnyObject {
    /// Ranks in the group.
    var size: Int { get }
    /// This process's index within the group.
    var rank: Int { get }
}

/// An operation in flight.
public protocol TransportRequest: AnyObject {
    /// Whether it has completed (never blocks).
    func test() throws -> Bool
    /// Withdraws a receive that will never be matched (a run ending), so no request is left behind.
    func cancel()
}

/// Why a transfer failed, as a line the user can act on.
public enum TransportError: Error, CustomStringConvertible, Equatable {
    case timedOut(what: String, seconds: Double)
    case failed(String)
    case peerOutOfRange(Int, size: Int)
    case badCounts(String)

    public var description: String {
        switch self {
        case .timedOut(let what, let seconds):
            return "timed out after \(Int(seconds)) s waiting for \(what) (is a rank dead or stuck? raise --comm-timeout if it is just slow)"
        case .failed(let message): return message
        case .peerOutOfRange(let peer, let size): return "rank \(peer) does not exist in a run of \(size) ranks"
        case .badCounts(let message): return "bad all-to-all counts: \(message)"
        }
    }
}
