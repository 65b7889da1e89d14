#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Typed helpers over the raw byte transfers, and bounded waiting.
extension Transport {
    /// Starts sending the elements of `values` (kept alive and unchanged until the request completes).
    public func startSend<T: BitwiseCopyable>(_ values: UnsafeBufferPointer<T>, to peer: Int, tag: Int) throws -> any TransportRequest {
        try startSend(UnsafeRawBufferPointer(values), to: peer, tag: tag)
    }

    /// Starts receiving `values.count` elements into `values`.
    public func startReceive<T: BitwiseCopyable>(into values: UnsafeMutableBufferPointer<T>, from peer: Int, tag: Int) throws -> any TransportRequest {
        try startReceive(into: UnsafeMutableRawBufferPointer(values), from: peer, tag: tag)
    }

    /// Waits for `request`, failing after `timeout` seconds; `what` names it in the error.
    /// Spins briefly, then sleeps in short steps so a waiting rank leaves the cores to the others.
    public func wait(_ request: any TransportRequest, for what: @autoclosure () -> String) throws {
        if try request.test() { return }
        let deadline = monotonicSeconds() + timeout
        var spins = 0
        while true {
            if try request.test() { return }
            spins += 1
            if spins > 2000 {
                if monotonicSeconds() > deadline { throw TransportError.timedOut(what: what(), seconds: timeout) }
                usleep(spins > 20000 ? 200 : 20)
            }
        }
    }

    /// Blocking send of a small array (control messages).
    public func send<T: BitwiseCopyable>(_ values: [T], to peer: Int, tag: Int) throws {
        try values.withUnsafeBufferPointer { buffer in
            let request = try startSend(buffer, to: peer, tag: tag)
            try wait(request, for: "rank \(peer) to take a message")
        }
    }

    /// Blocking receive of `count` elements (control messages).
    public func receive<T: BitwiseCopyable>(_ type: T.Type, count: Int, from peer: Int, tag: Int) throws -> [T] {
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, count))
        defer { buffer.deallocate() }
        let target = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
        let request = try startReceive(into: target, from: peer, tag: tag)
        try wait(request, for: "a message from rank \(peer)")
        return Array(target)
    }
}

/// Seconds on a monotonic clock (shared by the processes of one machine).
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
