import ChorusModels
import ChorusRuntime
import ChorusGGUF
import ChorusTestSupport
import Foundation
import Testing

/// Two threads standing in for two tensor-parallel ranks: gathers their buffers in slice order.
final class PairGatherer: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var sent: [UnsafeBufferPointer<Float>?] = [nil, nil]

    private func barrier() {
        condition.lock()
        let g = generation
        arrived += 1
        if arrived == 2 {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while g == generation { condition.wait() }
        }
        condition.unlock()
    }

    func gather(slice: Int, _ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) {
        sent[slice] = send
        barrier()
        for (i, values) in sent.enumerated() {
            for j in 0..<values!.count { receive[i * send.count + j] = values![j] }
        }
        barrier()
    }
}

/// Tensor slices computed in one process (two threads) against the whole model. Every product is
/// split by output rows and the slices' rows are gathered, so each value is computed exactly as in
/// one process: logits and intermediate tensors agree bit for bit (a misplaced head or row would
/// show as differences of tens).
@Suite struct TensorSliceTests {
    @Test func twoSlicesMatchTheWholeModel() throws {
        let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        let whole = try Transformer(file: file, pool: ThreadPool(threads: 1), contextCapacity: 64)
        let tokens = [1, 504, 3893, 28, 1209, 9, 44, 2399]
        let batch = Batch.sequence(tokens, start: 0, logits: .all)
        var taps: [String: [Float]] = [:]
        let tapped = try whole.with { $0.tap = { name, values in taps[name] = values } }
        let expected = try tapped.forward(batch, cache: whole.makeCache(capacity: 64))
        let reference = (0..<tokens.count).flatMap { Array(expected.row($0)) }

        let gatherer = PairGatherer()
        nonisolated(unsafe) var results: [[Float]] = [[], []]
        nonisolated(unsafe) var sliceTaps: [[String: [Float]]] = [[:], [:]]
        let threads = (0..<2).map { slice in
            Thread {
                let context = ExecutionContext(pool: ThreadPool(threads: 1), tap: { name, values in sliceTaps[slice][name] = values },
                                               allGather: { send, receive in gatherer.gather(slice: slice, send, into: receive) })
                let t = try! Transformer(file: file, context: context, contextCapacity: 64,
                                         part: ModelPart(tensorSlice: slice, tensorSlices: 2))
                let logits = try! t.forward(batch, cache: t.makeCache(capacity: 64))
                results[slice] = (0..<tokens.count).flatMap { Array(logits.row($0)) }
            }
        }
        threads.forEach { $0.start() }
        while results.contains(where: \.isEmpty) { Thread.sleep(forTimeInterval: 0.01) }
        for name in ["kqv_out-0", "l_out-0", "l_out-\(whole.config.layerCount - 1)"] {
            #expect(sliceTaps[0][name] == taps[name], "\(name) differs from the whole model")
            #expect(sliceTaps[1][name] == taps[name], "\(name) differs from the whole model")
        }
        let diff = zip(results[0], reference).map { abs($0 - $1) }.max() ?? 1
        print("two tensor slices vs whole model: max logit difference \(diff)")
        #expect(results[0] == results[1])
        #expect(results[0] == reference)
    }
}
