import ChorusGGUF
import ChorusTestSupport
import Foundation
import Testing

/// Runs the built `chorus` binary under `mpirun` on loopback, as a user would, and compares what rank
/// 0 prints with the single-process run. Every launch has a time bound; exceeding it fails the test.
enum MPIRun {
    static var chorus: String { ChorusExecutable.path }

    /// `mpirun` found on PATH, as a shell finds it.
    static var mpirun: String? { launcher(ProcessInfo.processInfo.environment) }

    /// Whether the distributed suites run: `mpirun` is on PATH, or it must be. `.ci/run` sets
    /// CHORUS_REQUIRE_MPI=1, so there a missing `mpirun` fails these tests instead of skipping them.
    static var enabled: Bool { enabled(ProcessInfo.processInfo.environment) }

    static func launcher(_ environment: [String: String]) -> String? {
        (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func enabled(_ environment: [String: String]) -> Bool {
        launcher(environment) != nil || environment["CHORUS_REQUIRE_MPI"] == "1"
    }

    typealias Outcome = ChorusExecutable.Outcome

    /// `chorus ARGS` alone (ranks nil) or under `mpirun -np ranks`; `mpmd` adds MPMD parts (`: -np 1 chorus ...`).
    /// `program` runs another executable than chorus (the test bundle itself, for transport tests).
    static func run(_ arguments: [String], ranks: Int? = nil, mpmd: [[String]] = [], environment: [String: String] = [:],
                    timeout: Double = 240, program: String = chorus) throws -> Outcome {
        guard let ranks else {
            return try ChorusExecutable.run(executable: program, arguments, environment: environment, timeout: timeout)
        }
        let launcher = try #require(mpirun, "mpirun not found on PATH: install openmpi-bin")
        var args = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(ranks), program] + arguments
        for part in mpmd { args += [":", "-np", "1", program] + part }
        return try ChorusExecutable.run(executable: launcher, args, environment: environment, timeout: timeout)
    }

    /// The single JSON object a run printed on stdout (exactly one line).
    static func json(_ outcome: Outcome) throws -> [String: Any] {
        let lines = outcome.stdout.split(separator: "\n")
        try #require(outcome.status == 0 && !outcome.timedOut, "run failed (\(outcome.status)): \(outcome.stderr.suffix(2000))")
        try #require(lines.count == 1, "expected one JSON line on stdout, got \(lines.count): \(outcome.stdout.prefix(500))")
        return try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    }

    /// A text of a few hundred tokens: the code prompts fixture.
    static func perplexityText() throws -> String {
        let path = Fixtures.directory + "/prompts/code.jsonl"
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-mpi-ppl-\(getpid()).txt")
        var text = ""
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let prompt = object["prompt"] as? String {
                text += prompt + "\n"
            }
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}

/// Where `mpirun` comes from, and when its absence may skip the distributed tests.
@Suite struct MPILauncherTests {
    @Test func mpirunIsLookedUpOnPath() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = directory.appendingPathComponent("mpirun").path
        #expect(FileManager.default.createFile(atPath: fake, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644]))
        #expect(MPIRun.launcher(["PATH": "/nonexistent:\(directory.path)"]) == nil, "a file that is not executable is no launcher")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        #expect(MPIRun.launcher(["PATH": "/nonexistent:\(directory.path):/usr/bin"]) == fake)
        #expect(MPIRun.launcher(["PATH": "/nonexistent"]) == nil)
        #expect(MPIRun.launcher([:]) == nil)
    }

    @Test func missingMpirunSkipsOnlyWhenNotRequired() {
        #expect(!MPIRun.enabled(["PATH": "/nonexistent"]))
        #expect(MPIRun.enabled(["PATH": "/nonexistent", "CHORUS_REQUIRE_MPI": "1"]), "under .ci/run the suites must run, and fail")
    }
}

/// Split runs give the single-process results bit for bit: pipeline stages, tensor-parallel slices
/// (every product split by output rows, rows gathered) and both combined give identical greedy ids
/// and perplexity.
@Suite(.serialized, .enabled(if: MPIRun.enabled, "needs Open MPI (apt-get install openmpi-bin libopenmpi-dev; required under .ci/run)"))
struct DistributedEquivalenceTests {
    static let prompt = "def quicksort(items):"

    func check(model: String, combined: Bool = false) throws {
        let text = try MPIRun.perplexityText()
        let generate = ["generate", "-m", model, "-t", "1", "-n", "16", "--temperature", "0", "--json", Self.prompt]
        let perplexity = ["perplexity", "-m", model, "-t", "1", "-c", "128", "-f", text, "--json"]
        let ids = try MPIRun.json(MPIRun.run(generate))["ids"] as? [Int]
        let ppl = try #require(try MPIRun.json(MPIRun.run(perplexity))["ppl"] as? Double)
        try #require(ids?.count == 16)
        var splits: [(ranks: Int, options: [String])] = [
            (2, ["--pipeline-stages", "2", "--microbatches", "2"]),
            (3, ["--pipeline-stages", "3", "--microbatches", "3", "--schedule", "1f1b"]),
            (2, ["--tensor-parallel", "2"]),
        ]
        if combined { splits.append((4, ["--pipeline-stages", "2", "--tensor-parallel", "2", "--microbatches", "2"])) }
        for split in splits {
            let g = try MPIRun.json(MPIRun.run(generate + split.options, ranks: split.ranks))
            #expect(g["ids"] as? [Int] == ids, "\(model) \(split.options): greedy ids differ")
            let p = try #require(try MPIRun.json(MPIRun.run(perplexity + split.options, ranks: split.ranks))["ppl"] as? Double)
            let relative = abs(p - ppl) / ppl
            print("\(model) \(split.options): ppl \(p) vs \(ppl) (relative difference \(relative)); ids \(g["ids"] as? [Int] == ids ? "identical" : "differ")")
            #expect(relative <= 1e-4, "\(model) \(split.options): ppl \(p) vs single-process \(ppl)")
            #expect(p == ppl, "\(model) \(split.options): a split run must not change any bit")
        }
    }

    @Test func smolLM2() throws { try check(model: "smollm2-135m") }

    @Test func qwenCoder() throws { try check(model: "qwen2.5-coder-0.5b", combined: true) }

    /// `bench --profile` on a split run times rank 0's part: the profiler, set on a view of the
    /// loaded model (`LanguageModel.with`), reaches the transformer the pipeline driver runs.
    @Test func profileOfASplitRun() throws {
        let bench = ["bench", "-m", "smollm2-135m", "-t", "1", "-p", "16", "-n", "4", "-r", "1", "--profile", "--json",
                     "--pipeline-stages", "2"]
        let object = try MPIRun.json(MPIRun.run(bench, ranks: 2))
        let profile = try #require(object["profile_seconds"] as? [String: Double], "no profile: \(object)")
        for op in ["embedding", "attention", "norm+residual"] {
            #expect((profile[op] ?? 0) > 0, "\(op) not timed on rank 0: \(profile)")
        }
        #expect(profile.contains { $0.key.hasPrefix("matmul") && $0.value > 0 }, "no product timed on rank 0: \(profile)")
    }
}

/// Speculative decoding across a 2-stage pipeline: drafts (prompt lookup, or a draft model on rank
/// 0) verified over the pipeline driver as chains (causal runs, micro-batched) and trees (whole, with
/// positions and parents in the header), the accepted tree nodes committed on every rank; the tokens
/// equal plain greedy decoding in one process.
@Suite(.serialized, .enabled(if: MPIRun.mpirun != nil, "needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)"))
struct DistributedSpeculationTests {
    static let prompts = ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3,", "def quicksort(items):"]

    @Test func speculationOverTwoStagesEqualsPlainGreedy() throws {
        let base = ["generate", "-m", "smollm2-135m", "-t", "1", "-n", "24", "--temperature", "0", "--json"]
        let settings: [[String]] = [
            ["--draft", "ngram", "--draft-length", "4", "--microbatches", "2"],
            // Two micro-batches of one tree: the second's rows see ancestors the first wrote.
            ["--draft", "ngram", "--tree", "3,1,1", "--microbatches", "2"],
            ["--draft", "smollm2-135m", "--draft-length", "3"],
            ["--draft", "smollm2-135m", "--tree", "2,2,1"],
        ]
        for prompt in Self.prompts {
            let plain = try #require(try MPIRun.json(MPIRun.run(base + [prompt]))["ids"] as? [Int])
            for options in settings where options[1] != "ngram" || prompt == Self.prompts[0] {
                let run = try MPIRun.json(MPIRun.run(base + options + ["--pipeline-stages", "2", prompt], ranks: 2))
                #expect(run["ids"] as? [Int] == plain, "\(options) on \(prompt.prefix(12)): speculative ids over 2 stages differ from plain greedy")
                let statistics = try #require(run["speculative"] as? [String: Any])
                let drafted = statistics["drafted"] as? Int ?? 0, accepted = statistics["accepted"] as? Int ?? 0
                let verifications = statistics["verifications"] as? Int ?? 0
                #expect(accepted > 0, "\(options): nothing accepted")
                if options.contains("2,2,1") {
                    #expect(drafted > 3 * verifications, "\(options): \(drafted) drafted in \(verifications) verifications is no tree")
                }
            }
        }
    }
}

/// Every way a split run can fail ends on every rank, with a message, within the time bound.
@Suite(.serialized, .enabled(if: MPIRun.enabled, "needs Open MPI (apt-get install openmpi-bin libopenmpi-dev; required under .ci/run)"))
struct DistributedFailureTests {
    static let bound = 60.0
    static let generate = ["generate", "-m", "smollm2-135m", "-t", "1", "-n", "24", "--temperature", "0", "--comm-timeout", "20"]

    func expectFailure(_ outcome: MPIRun.Outcome, mentions text: String) {
        #expect(!outcome.timedOut, "the run hung (killed after \(Self.bound) s)")
        #expect(outcome.status != 0)
        #expect(outcome.seconds < Self.bound)
        #expect(outcome.stderr.contains(text), "stderr lacks '\(text)': \(outcome.stderr.prefix(1500))")
    }

    @Test func rankFailsToLoad() throws {
        let outcome = try MPIRun.run(Self.generate + ["--pipeline-stages", "2", "hello"], ranks: 2,
                                     environment: ["CHORUS_TEST_FAULT": "load@1"], timeout: Self.bound)
        expectFailure(outcome, mentions: "rank 1 failed: could not load its part of the model")
        // Both ranks say so.
        #expect(outcome.stderr.components(separatedBy: "could not load its part").count - 1 == 2)
    }

    @Test func modelDiffersBetweenRanks() throws {
        let other = ["generate", "-m", "gemma3-270m", "-t", "1", "-n", "4", "--pipeline-stages", "2", "hello"]
        let outcome = try MPIRun.run(Self.generate + ["--pipeline-stages", "2", "hello"], ranks: 1, mpmd: [other], timeout: Self.bound)
        expectFailure(outcome, mentions: "the model file differs between ranks")
    }

    @Test func moreStagesThanLayers() throws {
        // A two-block cut of smollm2 (embeddings, blocks 0-1, head) split three ways.
        let source = try GGUFFile(path: try TestModels.path("smollm2-135m"))
        var pairs: [(String, GGUFValue)] = []
        for key in source.metadata.keys {
            pairs.append((key, key == "llama.block_count" ? .uint32(2) : source.metadata[key]!))
        }
        var writer = GGUFWriter(metadata: GGUFMetadata(pairs))
        for info in source.tensors where !info.name.hasPrefix("blk.") || info.name.hasPrefix("blk.0.") || info.name.hasPrefix("blk.1.") {
            let bytes = Array(UnsafeRawBufferPointer(start: source.data(for: info), count: info.byteCount))
            writer.add(info.name, dimensions: info.dimensions, type: info.type, bytes: bytes)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-two-blocks-\(getpid()).gguf").path
        try Data(writer.serialise()).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcome = try MPIRun.run(["generate", "-m", path, "-t", "1", "-n", "4", "--pipeline-stages", "3", "hello"], ranks: 3,
                                     timeout: Self.bound)
        expectFailure(outcome, mentions: "--pipeline-stages 3 is more than the model's 2 layers")
    }

    @Test func rankDiesMidRun() throws {
        let outcome = try MPIRun.run(Self.generate + ["--pipeline-stages", "2", "hello"], ranks: 2,
                                     environment: ["CHORUS_TEST_FAULT": "die@1:6"], timeout: Self.bound)
        #expect(!outcome.timedOut, "the run hung")
        #expect(outcome.status != 0)
        #expect(outcome.seconds < Self.bound)
        // The surviving rank says why it ended (the launcher's notice, or its own timeout/peer error).
        #expect(outcome.stderr.contains("chorus rank 0") || outcome.stderr.contains("Error: rank 0"), "\(outcome.stderr.prefix(1500))")
    }

    @Test func rankZeroFailsAfterStartUp() throws {
        // The prompt does not fit a 4-token context: rank 0 fails in generation and stops the others.
        let outcome = try MPIRun.run(Self.generate + ["-c", "4", "--pipeline-stages", "2", "one two three four five six seven"],
                                     ranks: 2, timeout: Self.bound)
        expectFailure(outcome, mentions: "more than the context of 4")
        #expect(outcome.stderr.contains("Error: rank 1: rank 0 stopped the run after an error"))
    }

    @Test func wrongRankCount() throws {
        let outcome = try MPIRun.run(Self.generate + ["--pipeline-stages", "2", "hello"], ranks: 3, timeout: Self.bound)
        expectFailure(outcome, mentions: "needs 2 ranks, but this run has 3")
    }
}
