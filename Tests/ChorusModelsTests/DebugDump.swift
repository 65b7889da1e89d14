import ChorusGGUF
import ChorusModels
import ChorusRuntime
import ChorusTestSupport
import Foundation
import Testing

@Test func debugDump() throws {
    guard ProcessInfo.processInfo.environment["CHORUS_DEBUG_DUMP"] != nil else { return }
    let oracle = try Oracle.load("smollm2-135m")
    let file = try GGUFFile(path: try TestModels.path("smollm2-135m"))
    let model = try Transformer(file: file, pool: ThreadPool(threads: 2), contextCapacity: 512)
    var total = 0.0, count = 0, worst = 0.0
    for g in oracle.greedy {
        let cache = model.makeCache(capacity: 512)
        var logits = try model.forward(.sequence(g.prompt_ids, start: 0), cache: cache)
        for (i, step) in g.steps.prefix(8).enumerated() {
            let lp = logSoftmax(logits.row(0))
            let mine = step.top.map { String(format: "%d:%.3f/%.3f", Int($0[0]), $0[1], lp[Int($0[0])]) }
            if g.prompt == oracle.greedy[0].prompt { print("step \(i):", mine.joined(separator: "  ")) }
            for t in step.top { let e = abs(t[1] - lp[Int(t[0])]); total += e; count += 1; worst = max(worst, e) }
            let chosen = abs(step.logprob - lp[step.id])
            if chosen > 0.03 { print("chosen error \(chosen) at step \(i) of \(g.prompt.prefix(20))") }
            logits = try model.forward(.sequence([step.id], start: cache.count), cache: cache)
        }
    }
    print("METRIC mean abs logprob error \(total / Double(count)) worst \(worst)")
}
