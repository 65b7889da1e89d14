import ChorusModels
import ChorusPlanner
import ChorusSpeculative
import Foundation

extension LanguageModel {
    /// The weight matrices one forward pass reads (the output head marked), for the cost model.
    public var matrixReads: [MatrixRead] {
        let w = transformer.weights
        var reads: [MatrixRead] = []
        for layer in w.layers {
            for m in [layer.query, layer.key, layer.value, layer.output, layer.gate, layer.up, layer.down] {
                reads.append(MatrixRead(type: m.type.name, rows: m.rows, columns: m.columns, bytes: m.byteCount))
            }
        }
        reads.append(MatrixRead(type: w.output.type.name, rows: w.output.rows, columns: w.output.columns,
                                bytes: w.output.byteCount, isOutputHead: true))
        return reads
    }

    /// Time forward passes of `widths` rows (a token-tree verification: a chain of that many rows,
    /// every row's logits) after `context` committed tokens; the median of `repetitions` runs each.
    public func measureForwardCost(name: String, widths: [Int], context: Int = 64, repetitions: Int = 3,
                                   progress: (String) -> Void = { _ in }) throws -> ForwardCost {
        let cache = makeCache()
        let vocabulary = config.vocabularySize
        let widest = widths.max() ?? 1
        guard context + widest <= cache.capacity, widest <= transformer.maxBatch else {
            throw EngineError.invalidArgument("timing width \(widest) after \(context) tokens does not fit the model's context or batch")
        }
        let prefix = (0..<context).map { ($0 * 7919 + 13) % vocabulary }
        _ = try transformer.forward(.sequence(prefix, start: 0, logits: .none), cache: cache)
        var samples: [ForwardCost.Sample] = []
        for width in widths {
            var tree = TokenTree(root: (width * 31) % vocabulary)
            for i in 1..<max(1, width) { tree.add((i * 104_729) % vocabulary, parent: i - 1) }
            let batch = tree.batch(committed: context)
            _ = try transformer.forward(batch, cache: cache)  // warm
            var times: [Double] = []
            for _ in 0..<max(1, repetitions) {
                let start = ContinuousClock.now
                _ = try transformer.forward(batch, cache: cache)
                times.append((ContinuousClock.now - start).seconds)
            }
            times.sort()
            samples.append(.init(width: width, seconds: times[times.count / 2]))
            progress(String(format: "%@: width %d: %.1f ms", name, width, times[times.count / 2] * 1e3))
        }
        cache.trim(to: context)
        return ForwardCost(model: name, matrices: matrixReads, regions: 8 * config.layerCount + 2, measured: samples)
    }
}
