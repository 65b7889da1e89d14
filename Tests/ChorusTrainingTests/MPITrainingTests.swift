import ChorusPipeline
import ChorusTrainingTestSupport
import Foundation
import Testing

/// The executor under mpirun (real MPI transport, one process per rank, oversubscribed on a small machine):
/// every schedule on 2 ranks, and interleaved, ZB-H1 and DualPipe on 4, equal the unsplit computation.
@Suite(.serialized) struct MPITrainingTests {
    static var checkBinary: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ChorusTrainingCheck").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/release/ChorusTrainingCheck").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    /// Runs `mpirun -np ranks ChorusTrainingCheck pipeline ...` and returns rank 0's JSON lines by schedule.
    static func run(ranks: Int, schedules: [ScheduleKind], microbatches: Int) throws -> [String: TinyRun.Result] {
        let mpirun = try #require(["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                  "mpirun not found: install openmpi-bin")
        #expect(FileManager.default.isExecutableFile(atPath: checkBinary), "build ChorusTrainingCheck first (swift build --build-tests)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(ranks), checkBinary, "pipeline",
                             schedules.map(\.rawValue).joined(separator: ","), String(microbatches),
                             String(PipelineExecutorTests.layers), String(PipelineExecutorTests.steps)]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(240)
        let output = out.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "mpirun failed (\(process.terminationStatus)): \(stderr.suffix(1500))")
        var results: [String: TinyRun.Result] = [:]
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let name = object["schedule"] as? String,
                  let result = object["result"] else { continue }
            results[name] = try JSONDecoder().decode(TinyRun.Result.self, from: try JSONSerialization.data(withJSONObject: result))
        }
        return results
    }

    @Test func everyScheduleOnTwoRanks() throws {
        let results = try Self.run(ranks: 2, schedules: ScheduleKind.allCases, microbatches: 4)
        let reference = try TinyRun.unsplit(microbatches: 4, layers: PipelineExecutorTests.layers, steps: PipelineExecutorTests.steps)
        for kind in ScheduleKind.allCases {
            let run = try #require(results[kind.rawValue], "no result for \(kind)")
            PipelineExecutorTests.expectEqual(run, reference, tolerance: kind == .dualPipe ? 1e-6 : nil, "mpirun \(kind) P=2")
            let schedule = try Schedule.generate(ScheduleRequest(kind: kind, ranks: 2, microbatches: 4))
            #expect(run.peakActivations == schedule.peakActivations, "\(kind): measured \(run.peakActivations) vs simulator \(schedule.peakActivations)")
        }
    }

    @Test func interleavedZeroBubbleAndDualPipeOnFourRanks() throws {
        let kinds: [ScheduleKind] = [.interleaved, .zeroBubbleH1, .dualPipe]
        let results = try Self.run(ranks: 4, schedules: kinds, microbatches: 8)
        let reference = try TinyRun.unsplit(microbatches: 8, layers: PipelineExecutorTests.layers, steps: PipelineExecutorTests.steps)
        for kind in kinds {
            let run = try #require(results[kind.rawValue], "no result for \(kind)")
            PipelineExecutorTests.expectEqual(run, reference, tolerance: kind == .dualPipe ? 1e-6 : nil, "mpirun \(kind) P=4")
        }
    }
}
