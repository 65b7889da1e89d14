import ChorusModels
import ChorusPlanner
import ChorusSpeculative
import Foundation

extension LanguageModel {
    /// The weight matrices one forward pass reads (the output head marked), for the cost model.
    public var matrixReads: [MatrixRead] {
        transformer.matrices.map { m, isOutputHead in
            MatrixRead(type: m.type.name, rows: m.rows, columns: m.columns, bytes: m.byteCount, isOutputHead: isOutputHead)
        }
    }

    /// Time forward passes of `widths` rows (a token-tree verification: a chain of that many rows,
    /// every row's logits) after `context` committed tokens; the median of `repetitions` rounds over all widths.
    public func measureForwardCost(name: String, widths: [Int], context: Int = 64, repetitions: Int = 5,
                                   progress: (String) -> Void = { _ in }) throws -> ForwardCost {
        let cache = makeCache()
        let vocabulary = config.vocabularySize
        let widest = widths.max() ?? 1
        guard context + widest <= cache.capacity, widest <= transformer.maxBatch else {
            throw EngineError.invalidArgument("timing width \(widest) after \(context) tokens does not fit the model's context or batch")
        }
        let prefix = (0..<context).map { ($0 * 7919 + 13) % vocabulary }
        _ = try transformer.forward(.sequence(prefix, start: 0, logits: .none), cache: cache)
        let batches = widths.map { width -> Batch in
            var tree = TokenTree(root: (width * 31) % vocabulary)
            for i in 1..<max(1, width) { tree.add((i * 104_729) % vocabulary, parent: i - 1) }
            return tree.batch(committed: context)
        }
        for batch in batches { _ = try transformer.forward(batch, cache: cache) }  // warm
        // Rounds over all widths, so a change in machine load touches every width alike.
        var times = Array(repeating: [Double](), count: widths.count)
        for round in 0..<max(1, repetitions) {
            for (i, batch) in batches.enumerated() {
                let start = ContinuousClock.now
                _ = try transformer.forward(batch, cache: cache)
                times[i].append((ContinuousClock.now - start).seconds)
            }
            progress("\(name): timing round \(round + 1)/\(max(1, repetitions)) over widths \(widths.first ?? 1)...\(widest)")
        }
        let samples = zip(widths, times).map { width, list -> ForwardCost.Sample in
            let sorted = list.sorted()
            return .init(width: width, seconds: sorted[sorted.count / 2])
        }
        progress("\(name): " + samples.map { String(format: "W%d %.0f ms", $0.width, $0.seconds * 1e3) }.joined(separator: ", "))
        cache.trim(to: context)
        return ForwardCost(model: name, matrices: matrixReads, regions: 8 * config.layerCount + 2, measured: samples)
    }
}
