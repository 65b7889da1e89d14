import ChorusGGUF
import ChorusMPI
import ChorusPipeline
import ChorusTraining
import ChorusTrainingTestSupport
import Foundation

// Test helper with two commands:
//
//   mpirun -np P ChorusTrainingCheck pipeline SCHEDULES MICROBATCHES LAYERS STEPS
//     runs the tiny model's training steps under each listed schedule (gpipe,1f1b,interleaved,zb-h1,dualpipe)
//     on the ranks of the run; rank 0 prints one JSON line per schedule:
//     {"schedule": NAME, "result": TinyRun.Result merged over the ranks}  (ChorusTrainingTests compares it).
//
//   ChorusTrainingCheck write-adapter MODEL.gguf OUT.gguf SEED B_SCALE RANK ALPHA TARGETS
//     writes a LoRA adapter for MODEL with Chorus's deterministic initialisation
//     (scripts/training-reference/llama_lora_check.py hands it to llama.cpp).

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "write-adapter":
    guard arguments.count == 8, let seed = UInt64(arguments[3]), let bScale = Float(arguments[4]), let rank = Int(arguments[5]),
          let alpha = Float(arguments[6]) else { fail("usage: ChorusTrainingCheck write-adapter MODEL OUT SEED B_SCALE RANK ALPHA TARGETS") }
    do {
        let model = try GGUFFile(path: arguments[1])
        let configuration = try LoRAConfiguration(rank: rank, alpha: alpha, targets: try LoRATarget.parseList(arguments[7]))
        let adapter = try LoRAAdapter(model: model, configuration: configuration, initialisation: LoRAInitialisation(seed: seed, bScale: bScale))
        try adapter.write(to: arguments[2])
        print("\(adapter.pairs.count) pairs -> \(arguments[2])")
    } catch { fail("\(error)") }
case "pipeline":
    guard arguments.count == 5, let microbatches = Int(arguments[2]), let layers = Int(arguments[3]), let steps = Int(arguments[4]) else {
        fail("usage: ChorusTrainingCheck pipeline SCHEDULES MICROBATCHES LAYERS STEPS")
    }
    let transport: MPITransport
    do { transport = try MPITransport(timeout: 60) } catch { fail("\(error)") }
    do {
        for name in arguments[1].split(separator: ",") {
            guard let kind = ScheduleKind(rawValue: String(name)) else { throw TrainingError.invalidOption("unknown schedule \(name)") }
            let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: transport.size, microbatches: microbatches))
            let result = try TinyRun.runRank(schedule: schedule, rank: transport.rank, transport: transport, layers: layers, steps: steps)
            let all = try transport.allGatherVariable([UInt8](try JSONEncoder().encode(result)))
            let merged = try TinyRun.merge(try all.map { try JSONDecoder().decode(TinyRun.Result.self, from: Data($0)) })
            if transport.rank == 0 {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print("{\"schedule\":\"\(kind.rawValue)\",\"result\":" + String(decoding: try encoder.encode(merged), as: UTF8.self) + "}")
            }
        }
        transport.finalize()
    } catch {
        transport.abort(code: 1, message: "rank \(transport.rank): \(error)")
    }
default:
    fail("usage: ChorusTrainingCheck pipeline ... | write-adapter ...")
}
