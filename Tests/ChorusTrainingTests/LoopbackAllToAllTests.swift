import ChorusTraining
import ChorusTransport
import Foundation
import Testing

/// The loopback transport's all-to-all-v against a closed form: rank r sends (p + 1) floats to rank p, each
/// the value 100 r + p, so rank p receives (p + 1) values 100 q + p from every rank q, in rank order.
@Suite struct LoopbackAllToAllTests {
    @Test func everyRankGetsItsPartsInRankOrder() throws {
        let ranks = 3
        let endpoints = LoopbackTransport.endpoints(ranks: ranks, timeout: 30)
        let box = ValuesBox(count: ranks)
        let group = DispatchGroup()
        for rank in 0..<ranks {
            let endpoint = UncheckedBox(endpoint: endpoints[rank])
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                box.set(rank, Result {
                    let send = (0..<ranks).flatMap { p in [Float](repeating: Float(100 * rank + p), count: p + 1) }
                    return try endpoint.endpoint.allToAllV(send, sendCounts: (0..<ranks).map { $0 + 1 },
                                                           receiveCounts: [Int](repeating: rank + 1, count: ranks), group: nil)
                })
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        for p in 0..<ranks {
            let expected = (0..<ranks).flatMap { q in [Float](repeating: Float(100 * q + p), count: p + 1) }
            #expect(try box.values[p]!.get() == expected, "rank \(p)")
        }
    }

    @Test func mismatchedCountsAreRefused() throws {
        let endpoints = LoopbackTransport.endpoints(ranks: 2, timeout: 30)
        let box = ValuesBox(count: 2)
        let group = DispatchGroup()
        for rank in 0..<2 {
            let endpoint = UncheckedBox(endpoint: endpoints[rank])
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                // Rank 0 sends 1 float to rank 1, which expects 2.
                box.set(rank, Result {
                    try endpoint.endpoint.allToAllV([Float](repeating: 1, count: 2), sendCounts: [1, 1],
                                                    receiveCounts: rank == 1 ? [2, 1] : [1, 1], group: nil)
                })
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(throws: TransportError.self) { try box.values[1]!.get() }
    }
}

final class ValuesBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<[Float], any Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<[Float], any Error>) { lock.withLock { values[index] = value } }
}
