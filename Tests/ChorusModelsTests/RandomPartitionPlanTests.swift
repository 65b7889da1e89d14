import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Testing

/// Random partition plans (random ratios, zeros included, over 2 and 3 units) decode exactly what a
/// single unit decodes: the same prompt logits bit for bit and the same greedy ids.
@Suite(.serialized) struct RandomPartitionPlanTests {
    static let prompt = [504, 3575, 282, 4649, 314, 7042, 30, 378, 2]

    /// Prompt logits (every row) and `steps` greedy ids after the prompt.
    func decode(_ model: Transformer, steps: Int) throws -> (logits: [[Float]], ids: [Int]) {
        let cache = model.makeCache(capacity: 64)
        var out = try model.forward(.sequence(Self.prompt, start: 0, logits: .all), cache: cache)
        let logits = (0..<Self.prompt.count).map { Array(out.row($0)) }
        var ids: [Int] = []
        var next = argmax(out.row(Self.prompt.count - 1))
        for _ in 0..<steps {
            ids.append(next)
            out = try model.forward(.sequence([next], start: cache.count), cache: cache)
            next = argmax(out.row(0))
        }
        return (logits, ids)
    }

    func argmax(_ row: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in row.indices where row[i] > row[best] { best = i }
        return best
    }

    @Test func randomPlansDecodeLikeOneUnit() throws {
        let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        let single = try Transformer(file: file, pool: ThreadPool(threads: 1), contextCapacity: 64, maxBatch: 16)
        let reference = try decode(single, steps: 12)
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func random() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        for (units, plans) in [(2, 5), (3, 2)] {
            let model = try Transformer(file: file, pool: ThreadPool(threads: units), contextCapacity: 64, maxBatch: 16)
            let names = model.context.plan.units
            for p in 0..<plans {
                var shares: [OperatorClass: [Double]] = [:]
                for op in OperatorClass.allCases {
                    // A quarter of the shares are zero (a unit idle for that class); never all zero.
                    var list = (0..<units).map { _ in random() < 0.25 ? 0 : random() * 4 }
                    if list.allSatisfy({ $0 == 0 }) { list[p % units] = 1 }
                    shares[op] = list
                }
                let planned = try model.with { $0.plan = PartitionPlan(units: names, shares: shares) }
                let got = try decode(planned, steps: 12)
                #expect(got.ids == reference.ids, "\(units) units, plan \(shares)")
                #expect(got.logits == reference.logits, "\(units) units, plan \(shares): prompt logits differ")
            }
        }
    }
}
