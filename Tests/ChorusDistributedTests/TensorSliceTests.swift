import ChorusModels
import ChorusRuntime
import ChorusGGUF
import ChorusTestSupport
import Foundation
import Testing

/// Two threads standing in for two tensor-parallel ranks: sums their partial results in place.
final class PairReducer: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var pointers: [UnsafeMutablePointer<Float>?] = [nil, nil]

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

    func reduce(slice: Int, _ values: UnsafeMutablePointer<Float>, count: Int) {
        pointers[slice] = values
        barrier()
        let other = pointers[1 - slice]!
        let sum = (0..<count).map { values[$0] + other[$0] }
        barrier()
        for i in 0..<count { values[i] = sum[i] }
        barrier()
    }
}

/// Tensor slices computed in one process (two threads) against the whole model. The split sums round
/// differently from the whole row's sum, and int8 activation quantisation amplifies those ~1e-6
/// differences (a value crossing a rounding boundary moves by a quantisation step), so logits agree
/// closely but not bit for bit; a wrong slice (heads, rows or columns misplaced) gives differences
/// of tens.
@Suite struct TensorSliceTests {
    @Test func twoSlicesMatchTheWholeModel() throws {
        let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        let whole = try Transformer(file: file, pool: ThreadPool(threads: 1), contextCapacity: 64)
        let tokens = [1, 504, 3893, 28, 1209, 9, 44, 2399]
        let batch = Batch.sequence(tokens, start: 0, logits: .all)
        var taps: [String: [Float]] = [:]
        whole.tap = { name, values in taps[name] = values }
        let expected = try whole.forward(batch, cache: whole.makeCache(capacity: 64))
        let reference = (0..<tokens.count).flatMap { Array(expected.row($0)) }
        whole.tap = nil

        let reducer = PairReducer()
        nonisolated(unsafe) var results: [[Float]] = [[], []]
        nonisolated(unsafe) var sliceTaps: [[String: [Float]]] = [[:], [:]]
        let threads = (0..<2).map { slice in
            Thread {
                let t = try! Transformer(file: file, pool: ThreadPool(threads: 1), contextCapacity: 64,
                                         part: ModelPart(tensorSlice: slice, tensorSlices: 2))
                t.partialSums = { p, rows in reducer.reduce(slice: slice, p, count: rows * t.hiddenWidth) }
                t.tap = { name, values in sliceTaps[slice][name] = values }
                let logits = try! t.forward(batch, cache: t.makeCache(capacity: 64))
                results[slice] = (0..<tokens.count).flatMap { Array(logits.row($0)) }
            }
        }
        threads.forEach { $0.start() }
        while results.contains(where: \.isEmpty) { Thread.sleep(forTimeInterval: 0.01) }
        // The first blocks agree to float rounding, before quantisation amplifies it.
        let first = zip(taps["l_out-0"]!, sliceTaps[0]["l_out-0"]!).map { abs($0 - $1) }.max() ?? 1
        #expect(first < 1e-4)
        let diff = zip(results[0], reference).map { abs($0 - $1) }.max() ?? 0
        print("two tensor slices vs whole model: max logit difference \(diff)")
        #expect(results[0] == results[1])
        #expect(diff < 2)
    }
}
