import ChorusMPI
import ChorusTransport
import Foundation
import Testing

/// `Transport.startAllToAllV` over MPI on 2 and 3 ranks: the test bundle runs itself under mpirun with
/// `CHORUS_ALLTOALL_BODY` set, every rank checks what it received against a closed form, and each prints
/// one "ok" line the launching test counts (so a rank that checked nothing cannot pass).
@Suite(.serialized, .enabled(if: MPIRun.mpirun != nil, "needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)"))
struct AllToAllTests {
    static let bodyVariable = "CHORUS_ALLTOALL_BODY"

    /// Elements rank `from` sends rank `to` in round `round`: zero for some pairs (including a rank and itself).
    static func count(from: Int, to: Int, round: Int) -> Int { (from * 5 + to * 3 + round) % 4 }

    /// The i-th element rank `from` sends rank `to`.
    static func value(from: Int, to: Int, i: Int, round: Int) -> Float { Float(10_000 * round + 1000 * from + 100 * to + i) }

    @Test func allToAllVMatchesTheClosedFormOnTwoAndThreeRanks() throws {
        if ProcessInfo.processInfo.environment[Self.bodyVariable] != nil { return try Self.rankBody() }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).path
        for ranks in [2, 3] {
            let outcome = try MPIRun.run(["--testing-library", "swift-testing", "--filter", "allToAllVMatchesTheClosedFormOnTwoAndThreeRanks"],
                                         ranks: ranks, environment: [Self.bodyVariable: "1"], timeout: 120, program: bundle)
            #expect(outcome.status == 0 && !outcome.timedOut, "\(ranks) ranks: \(outcome.stdout.suffix(3000)) \(outcome.stderr.suffix(2000))")
            for rank in 0..<ranks {
                #expect(outcome.stdout.contains("all-to-all rank \(rank) of \(ranks): ok"), "rank \(rank) of \(ranks) did not finish its checks")
            }
        }
    }

    /// What each rank of the mpirun job does.
    static func rankBody() throws {
        let transport = try MPITransport(timeout: 60)
        defer { transport.finalize() }
        let (rank, size) = (transport.rank, transport.size)
        var failures = 0
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { failures += 1; Issue.record("rank \(rank): \(message())") }
        }

        // Floats, blocking, over all ranks, three rounds with different counts (zeros included).
        for round in 0..<3 {
            let sendCounts = (0..<size).map { count(from: rank, to: $0, round: round) }
            let receiveCounts = (0..<size).map { count(from: $0, to: rank, round: round) }
            let send = (0..<size).flatMap { peer in (0..<sendCounts[peer]).map { value(from: rank, to: peer, i: $0, round: round) } }
            let got = try transport.allToAllV(send, sendCounts: sendCounts, receiveCounts: receiveCounts)
            let expected = (0..<size).flatMap { peer in (0..<receiveCounts[peer]).map { value(from: peer, to: rank, i: $0, round: round) } }
            check(got == expected, "round \(round): got \(got), expected \(expected)")
            check(try transport.exchangeCounts(sendCounts) == receiveCounts, "round \(round): exchanged counts")
        }

        // Every count zero.
        let none: [Float] = try transport.allToAllV([], sendCounts: Array(repeating: 0, count: size), receiveCounts: Array(repeating: 0, count: size))
        check(none.isEmpty, "all-zero exchange returned \(none.count) values")

        // Bytes, non-blocking: start, compute while in flight, then wait; buffers stay untouched until then.
        let byteCounts = (0..<size).map { 2 * count(from: rank, to: $0, round: 1) + 1 }
        let byteReceiveCounts = (0..<size).map { 2 * count(from: $0, to: rank, round: 1) + 1 }
        let bytes = (0..<size).flatMap { peer in (0..<byteCounts[peer]).map { UInt8(truncatingIfNeeded: rank * 40 + peer * 7 + $0) } }
        var received = [UInt8](repeating: 0xEE, count: byteReceiveCounts.reduce(0, +) + 3)
        var overlapped = 0.0
        try bytes.withUnsafeBytes { send in
            try received.withUnsafeMutableBytes { receive in
                let request = try transport.startAllToAllV(send, sendCounts: byteCounts, into: receive, receiveCounts: byteReceiveCounts, group: nil)
                for i in 0..<100_000 { overlapped += Double(i).squareRoot() }
                try transport.wait(request, for: "a test all-to-all of bytes")
            }
        }
        let expectedBytes = (0..<size).flatMap { peer in (0..<byteReceiveCounts[peer]).map { UInt8(truncatingIfNeeded: peer * 40 + rank * 7 + $0) } }
        check(Array(received.prefix(expectedBytes.count)) == expectedBytes, "bytes: got \(received), expected \(expectedBytes)")
        check(received.suffix(3) == [0xEE, 0xEE, 0xEE], "the all-to-all wrote past its receive counts")
        check(overlapped > 0, "overlapped compute")

        // On a group: ranks split by parity; group ranks exchange floats tagged with their world ranks.
        let group = try transport.makeGroup(color: rank % 2)
        let members = (0..<size).filter { $0 % 2 == rank % 2 }
        check(group.size == members.count && members[group.rank] == rank, "group of rank \(rank)")
        let groupCounts = (0..<group.size).map { 1 + count(from: rank, to: members[$0], round: 2) }
        let groupReceive = (0..<group.size).map { 1 + count(from: members[$0], to: rank, round: 2) }
        let groupSend = (0..<group.size).flatMap { g in (0..<groupCounts[g]).map { value(from: rank, to: members[g], i: $0, round: 7) } }
        let groupGot = try transport.allToAllV(groupSend, sendCounts: groupCounts, receiveCounts: groupReceive, group: group)
        let groupExpected = (0..<group.size).flatMap { g in (0..<groupReceive[g]).map { value(from: members[g], to: rank, i: $0, round: 7) } }
        check(groupGot == groupExpected, "group: got \(groupGot), expected \(groupExpected)")

        // Bad counts are refused with a line before anything is sent.
        do {
            _ = try transport.allToAllV([Float(1)], sendCounts: [1], receiveCounts: [1])
            check(false, "one count for \(size) ranks was accepted")
        } catch let error as TransportError {
            check(error.description.contains("1 send counts for \(size) ranks"), "\(error)")
        }
        do {
            _ = try transport.allToAllV([Float(1)], sendCounts: Array(repeating: 1, count: size), receiveCounts: Array(repeating: 1, count: size))
            check(false, "counts beyond the send buffer were accepted")
        } catch let error as TransportError {
            check(error.description.contains("send counts add up to \(4 * size) bytes, the buffer holds 4"), "\(error)")
        }
        try transport.barrier()
        if failures == 0 { print("all-to-all rank \(rank) of \(size): ok") }
    }
}
