import ChorusKernels
import Foundation
@testable import ChorusModels
import Testing

/// Merging two online-softmax states by log-sum-exp gives softmax(q K^T) V of the union, as
/// visiting all slots in one pass does (compared against a float64 reference).
@Suite struct SoftmaxMergeTests {
    @Test func mergeMatchesOnePassAndTheReference() {
        let hd = 64, slots = 300, split = 284
        var seed: UInt64 = 99
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1
        }
        let q = UnsafeMutablePointer<Float>.allocate(capacity: hd)
        let keys = UnsafeMutablePointer<UInt16>.allocate(capacity: slots * hd)
        let values = UnsafeMutablePointer<UInt16>.allocate(capacity: slots * hd)
        for i in 0..<hd { q[i] = halfToFloat(floatToHalf(next() * 2)) }
        for i in 0..<slots * hd {
            keys[i] = floatToHalf(next())
            values[i] = floatToHalf(next())
        }
        let a = UnsafeMutablePointer<UInt16>.allocate(capacity: hd), b = UnsafeMutablePointer<UInt16>.allocate(capacity: hd)
        let one = UnsafeMutablePointer<UInt16>.allocate(capacity: hd)
        for p in [a, b, one] { p.initialize(repeating: 0, count: hd) }
        var whole = SoftmaxState(), first = SoftmaxState(), second = SoftmaxState()
        for s in 0..<slots { whole.visit(s, query: q, keys: keys, values: values, headDimension: hd, scale: 0.125, accumulator: one) }
        for s in 0..<split { first.visit(s, query: q, keys: keys, values: values, headDimension: hd, scale: 0.125, accumulator: a) }
        for s in split..<slots { second.visit(s, query: q, keys: keys, values: values, headDimension: hd, scale: 0.125, accumulator: b) }
        var merged = [Float](repeating: 0, count: hd)
        SoftmaxState.merge(first, a, second, b, headDimension: hd, into: &merged)
        // float64 reference
        var scores = (0..<slots).map { s in (0..<hd).reduce(0.0) { $0 + Double(q[$1]) * Double(halfToFloat(keys[s * hd + $1])) } * 0.125 }
        let m = scores.max()!
        scores = scores.map { Foundation.exp($0 - m) }
        let total = scores.reduce(0, +)
        var worstMerged = 0.0, worstOnePass = 0.0
        for i in 0..<hd {
            let ref = (0..<slots).reduce(0.0) { $0 + scores[$1] * Double(halfToFloat(values[$1 * hd + i])) } / total
            worstMerged = max(worstMerged, abs(Double(merged[i]) - ref))
            worstOnePass = max(worstOnePass, abs(Double(halfToFloat(one[i]) / whole.normaliser) - ref))
        }
        #expect(worstMerged < 4 * worstOnePass + 1e-3)
    }
}
