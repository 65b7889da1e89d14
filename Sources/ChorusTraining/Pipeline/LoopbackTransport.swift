import ChorusTransport
import Foundation

/// A `Transport` between threads of one process: each rank is a thread holding its own endpoint of a
/// shared hub. Sends are eager (the bytes are copied at once, so a send completes immediately); a receive
/// completes when a message from its peer under its tag is there, matched first-posted first-sent as MPI
/// matches. Collectives meet in the hub. It lets a pipeline run on one process with the real executor and
/// schedules (tests, and debugging a schedule without mpirun); every wait is bounded by `timeout`.
public final class LoopbackTransport: Transport {
    public let rank: Int
    public var size: Int { hub.size }
    public var hostName: String { "loopback" }
    public var timeout: Double
    private let hub: LoopbackHub
    private var collectiveCounts: [[Int]: Int] = [:]

    /// One endpoint per rank of a new hub.
    public static func endpoints(ranks: Int, timeout: Double = 60) -> [LoopbackTransport] {
        let hub = LoopbackHub(size: ranks)
        return (0..<ranks).map { LoopbackTransport(rank: $0, hub: hub, timeout: timeout) }
    }

    init(rank: Int, hub: LoopbackHub, timeout: Double) {
        self.rank = rank
        self.hub = hub
        self.timeout = timeout
    }

    private func check(_ peer: Int) throws {
        guard peer >= 0, peer < size else { throw TransportError.peerOutOfRange(peer, size: size) }
    }

    public func startSend(_ bytes: UnsafeRawBufferPointer, to peer: Int, tag: Int) throws -> any TransportRequest {
        try check(peer)
        hub.send(Array(bytes), key: LoopbackHub.Key(from: rank, to: peer, tag: tag))
        return LoopbackRequest(done: true)
    }

    public func startReceive(into bytes: UnsafeMutableRawBufferPointer, from peer: Int, tag: Int) throws -> any TransportRequest {
        try check(peer)
        let request = LoopbackRequest(done: false, target: bytes)
        hub.receive(request, key: LoopbackHub.Key(from: peer, to: rank, tag: tag))
        return request
    }

    /// Contributes `bytes` to the next collective among `members` and returns every member's contribution.
    private func collective(_ members: [Int], _ bytes: [UInt8]) throws -> [[UInt8]] {
        let round = collectiveCounts[members, default: 0]
        collectiveCounts[members] = round + 1
        return try hub.meet(members: members, round: round, rank: rank, bytes: bytes, timeout: timeout)
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>, group: TransportGroup?) throws {
        let members = (group as? LoopbackGroup)?.members ?? Array(0..<size)
        let all = try collective(members, Array(UnsafeRawBufferPointer(values)))
        for i in 0..<values.count {
            var sum: Float = 0
            for contribution in all {
                sum += contribution.withUnsafeBytes { $0.load(fromByteOffset: i * 4, as: Float.self) }
            }
            values[i] = sum
        }
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try collective(Array(0..<size), bytes)
    }

    public func allGather(_ values: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>, group: TransportGroup?) throws {
        let members = (group as? LoopbackGroup)?.members ?? Array(0..<size)
        let all = try collective(members, Array(UnsafeRawBufferPointer(values)))
        for (g, contribution) in all.enumerated() {
            contribution.withUnsafeBytes { raw in
                for i in 0..<values.count { receive[g * values.count + i] = raw.load(fromByteOffset: i * 4, as: Float.self) }
            }
        }
    }

    /// Eager: every member contributes its send buffer and counts to one meeting, then takes its parts.
    public func startAllToAllV(_ send: UnsafeRawBufferPointer, sendCounts: [Int], into receive: UnsafeMutableRawBufferPointer,
                               receiveCounts: [Int], group: TransportGroup?) throws -> any TransportRequest {
        let members = (group as? LoopbackGroup)?.members ?? Array(0..<size)
        let me = members.firstIndex(of: rank)!
        _ = try allToAllDisplacements(sendCounts, ranks: members.count, capacity: send.count, side: "send")
        let receiveAt = try allToAllDisplacements(receiveCounts, ranks: members.count, capacity: receive.count, side: "receive")
        var counts = sendCounts.map { Int64($0).littleEndian }
        let header = counts.withUnsafeMutableBytes { Array($0) }
        let all = try collective(members, header + Array(send))
        for (p, contribution) in all.enumerated() {
            let (offset, count) = contribution.withUnsafeBytes { raw -> (Int, Int) in
                let peerCounts = (0..<members.count).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
                return (8 * members.count + peerCounts[..<me].reduce(0, +), peerCounts[me])
            }
            guard count == receiveCounts[p] else {
                throw TransportError.badCounts("rank \(members[p]) sends \(count) bytes, this rank expects \(receiveCounts[p])")
            }
            if count > 0 {
                contribution.withUnsafeBytes { receive.baseAddress!.advanced(by: receiveAt[p]).copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
            }
        }
        return LoopbackRequest(done: true)
    }

    public func barrier() throws {
        _ = try collective(Array(0..<size), [])
    }

    public func makeGroup(color: Int) throws -> TransportGroup {
        var c = Int64(color).littleEndian
        let colors = try collective(Array(0..<size), withUnsafeBytes(of: &c) { Array($0) }).map { bytes in
            bytes.withUnsafeBytes { Int(Int64(littleEndian: $0.loadUnaligned(as: Int64.self))) }
        }
        let members = (0..<size).filter { colors[$0] == color }
        return LoopbackGroup(members: members, rank: members.firstIndex(of: rank)!)
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

final class LoopbackGroup: TransportGroup {
    let members: [Int]
    let rank: Int
    var size: Int { members.count }
    init(members: [Int], rank: Int) {
        self.members = members
        self.rank = rank
    }
}

final class LoopbackRequest: TransportRequest, @unchecked Sendable {
    private let lock = NSLock()
    private var done: Bool
    let target: UnsafeMutableRawBufferPointer?
    init(done: Bool, target: UnsafeMutableRawBufferPointer? = nil) {
        self.done = done
        self.target = target
    }
    func complete(with bytes: [UInt8]) {
        if let target {
            precondition(bytes.count <= target.count, "loopback message of \(bytes.count) bytes for a \(target.count)-byte receive")
            bytes.withUnsafeBytes { target.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        }
        lock.withLock { done = true }
    }
    func test() throws -> Bool { lock.withLock { done } }
    func cancel() {}
}

/// The meeting point of a loopback run's endpoints.
final class LoopbackHub: @unchecked Sendable {
    struct Key: Hashable { var from: Int; var to: Int; var tag: Int }
    struct Round: Hashable { var members: [Int]; var round: Int }
    let size: Int
    private let condition = NSCondition()
    private var messages: [Key: [[UInt8]]] = [:]
    private var waiting: [Key: [LoopbackRequest]] = [:]
    private var rounds: [Round: [Int: [UInt8]]] = [:]
    private var readers: [Round: Int] = [:]

    init(size: Int) { self.size = size }

    func send(_ bytes: [UInt8], key: Key) {
        condition.lock()
        if var queue = waiting[key], !queue.isEmpty {
            let request = queue.removeFirst()
            waiting[key] = queue
            condition.unlock()
            request.complete(with: bytes)
            return
        }
        messages[key, default: []].append(bytes)
        condition.unlock()
    }

    func receive(_ request: LoopbackRequest, key: Key) {
        condition.lock()
        if var queue = messages[key], !queue.isEmpty {
            let bytes = queue.removeFirst()
            messages[key] = queue
            condition.unlock()
            request.complete(with: bytes)
            return
        }
        waiting[key, default: []].append(request)
        condition.unlock()
    }

    func meet(members: [Int], round: Int, rank: Int, bytes: [UInt8], timeout: Double) throws -> [[UInt8]] {
        let key = Round(members: members, round: round)
        condition.lock()
        defer { condition.unlock() }
        rounds[key, default: [:]][rank] = bytes
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while (rounds[key]?.count ?? 0) < members.count {
            if !condition.wait(until: deadline) {
                throw TransportError.timedOut(what: "the other ranks of a collective (\(rounds[key]?.count ?? 0) of \(members.count) arrived)", seconds: timeout)
            }
        }
        let all = members.map { rounds[key]![$0]! }
        readers[key, default: 0] += 1
        if readers[key] == members.count {
            rounds[key] = nil
            readers[key] = nil
        }
        return all
    }
}
