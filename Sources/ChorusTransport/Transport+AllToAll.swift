/// All-to-all-v in elements, blocking forms, count exchange and count checking, over the byte-level
/// `Transport.startAllToAllV`.
extension Transport {
    /// Starts an all-to-all-v of elements: `sendCounts[p]` elements of `send` (contiguous, in group-rank order)
    /// go to group rank p; `receiveCounts[p]` elements from p land in `receive`, in group-rank order. See
    /// `startAllToAllV(_:sendCounts:into:receiveCounts:group:)` for what must stay alive.
    public func startAllToAllV<T: BitwiseCopyable>(
        _ send: UnsafeBufferPointer<T>, sendCounts: [Int], into receive: UnsafeMutableBufferPointer<T>,
        receiveCounts: [Int], group: TransportGroup? = nil
    ) throws -> any TransportRequest {
        let stride = MemoryLayout<T>.stride
        return try startAllToAllV(UnsafeRawBufferPointer(send), sendCounts: sendCounts.map { $0 * stride },
                                  into: UnsafeMutableRawBufferPointer(receive), receiveCounts: receiveCounts.map { $0 * stride },
                                  group: group)
    }

    /// Blocking all-to-all-v of elements (start, then wait within `timeout`).
    public func allToAllV<T: BitwiseCopyable>(
        _ send: UnsafeBufferPointer<T>, sendCounts: [Int], into receive: UnsafeMutableBufferPointer<T>,
        receiveCounts: [Int], group: TransportGroup? = nil
    ) throws {
        let request = try startAllToAllV(send, sendCounts: sendCounts, into: receive, receiveCounts: receiveCounts, group: group)
        try wait(request, for: "an all-to-all of \(send.count) elements out, \(receive.count) in")
    }

    /// Blocking all-to-all-v of arrays: `send` holds the parts for group ranks 0, 1, ... back to back
    /// (`sendCounts[p]` elements each); returns what every rank sent this one, in group-rank order.
    public func allToAllV<T: BitwiseCopyable>(_ send: [T], sendCounts: [Int], receiveCounts: [Int],
                                             group: TransportGroup? = nil) throws -> [T] {
        let total = receiveCounts.reduce(0, +)
        guard total >= 0 else { throw TransportError.badCounts("negative receive counts \(receiveCounts)") }
        let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, total))
        defer { buffer.deallocate() }
        let target = UnsafeMutableBufferPointer(rebasing: buffer[0..<total])
        try send.withUnsafeBufferPointer { source in
            try allToAllV(source, sendCounts: sendCounts, into: target, receiveCounts: receiveCounts, group: group)
        }
        return Array(target)
    }

    /// Tells every group rank how much this one will send it: `counts[p]` goes to group rank p; returns the
    /// count each group rank announced for this one (the receive counts of a following all-to-all-v).
    public func exchangeCounts(_ counts: [Int], group: TransportGroup? = nil) throws -> [Int] {
        let ranks = group?.size ?? size
        guard counts.count == ranks else {
            throw TransportError.badCounts("\(counts.count) counts for \(ranks) ranks")
        }
        let received = try allToAllV(counts.map { Int64($0) }, sendCounts: Array(repeating: 1, count: ranks),
                                     receiveCounts: Array(repeating: 1, count: ranks), group: group)
        return received.map { Int($0) }
    }
}

/// Checks one side of an all-to-all-v: one count per rank, none negative, all fitting in `capacity`
/// bytes and in MPI's 32-bit counts. Returns the exclusive prefix sums (each peer's displacement).
public func allToAllDisplacements(_ counts: [Int], ranks: Int, capacity: Int, side: String) throws -> [Int] {
    guard counts.count == ranks else { throw TransportError.badCounts("\(counts.count) \(side) counts for \(ranks) ranks") }
    var displacements: [Int] = []
    displacements.reserveCapacity(ranks)
    var total = 0
    for count in counts {
        guard count >= 0 else { throw TransportError.badCounts("negative \(side) count in \(counts)") }
        displacements.append(total)
        total += count
    }
    guard total <= capacity else {
        throw TransportError.badCounts("\(side) counts add up to \(total) bytes, the buffer holds \(capacity)")
    }
    guard total <= Int(Int32.max) else { throw TransportError.badCounts("\(total) \(side) bytes exceed 2 GiB") }
    return displacements
}
