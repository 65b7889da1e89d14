// swift-tools-version: 6.0
import Foundation
import PackageDescription

/// Chorus: one module per concern. Dependencies point downwards only:
/// (CQuantBlocks, the block layouts) -> GGUF -> Kernels -> Runtime -> Models -> Speculative -> Engine (the decode loop)
/// -> Chorus (library API) -> Server, Distributed -> chorus (CLI).
/// Kernels are compiled for the host's vector unit: on x86-64 AVX2/FMA/F16C (`haswell`) unless
/// CHORUS_TARGET_CPU names another LLVM CPU ("generic" for a portable x86-64 build). ARM has NEON always.
let targetCPU = Context.environment["CHORUS_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let cpuFlags: [String] = targetCPU == "generic" ? [] : ["-target-cpu", targetCPU]
#else
let cpuFlags: [String] = []
#endif
/// Hot numeric code drops overflow and bounds traps in release builds; parsers of untrusted input keep them.
let optimise: [SwiftSetting] = [.unsafeFlags(cpuFlags), .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

/// Distributed runs (`mpirun ... chorus --pipeline-stages P`) need Open MPI's headers and library
/// (Debian: libopenmpi-dev). Without them, or with CHORUS_MPI=0, Chorus builds without the MPI
/// transport and the distributed options explain how to get it.
let mpiHeaders = ["/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h", "/usr/lib/aarch64-linux-gnu/openmpi/include/mpi.h",
                  "/usr/include/openmpi/mpi.h", "/usr/local/include/mpi.h", "/opt/homebrew/include/mpi.h"]
let withMPI = Context.environment["CHORUS_MPI"] != "0" && mpiHeaders.contains { FileManager.default.fileExists(atPath: $0) }
let mpiTargets: [Target] = withMPI ? [
    .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
    .target(name: "ChorusMPI", dependencies: ["CMPI", "ChorusTransport"]),
    // Test helper: the training executor on a tiny model under mpirun, and Chorus-written adapters for llama.cpp.
    .executableTarget(name: "ChorusTrainingCheck", dependencies: ["ChorusTraining", "ChorusTrainingTestSupport", "ChorusGGUF", "ChorusMPI"],
                      path: "Tests/ChorusTrainingCheck"),
] : []
let mpiDependency: [Target.Dependency] = withMPI ? ["ChorusMPI"] : []

let package = Package(
    name: "Chorus",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Chorus", targets: ["Chorus"]),
        .executable(name: "chorus", targets: ["chorus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        // The byte layout of every quantised block (include/quant_blocks.h), the one declaration read by
        // the GGUF type table, the C kernels and their Swift twins.
        .target(name: "CQuantBlocks"),
        // Instruction-level kernels Swift SIMD cannot express (int8 multiply-add); each has a Swift twin.
        .target(name: "CChorusKernels", dependencies: ["CQuantBlocks"], cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])], linkerSettings: [.linkedLibrary("m")]),
        .target(name: "ChorusGGUF", dependencies: ["CQuantBlocks"]),
        .target(name: "ChorusKernels", dependencies: ["ChorusGGUF", "CQuantBlocks", "CChorusKernels"], swiftSettings: optimise),
        .target(name: "ChorusRuntime", dependencies: ["ChorusKernels"], swiftSettings: optimise),
        .target(name: "ChorusTokenizers", dependencies: ["ChorusGGUF"]),
        .target(name: "ChorusModels", dependencies: ["ChorusGGUF", "ChorusKernels", "ChorusRuntime"], swiftSettings: optimise),
        .target(name: "ChorusPipeline"),
        // LoRA fine-tuning: adapters (llama.cpp's layout), AdamW, data, checkpoints, and the pipeline executor.
        .target(name: "ChorusTraining", dependencies: ["ChorusGGUF", "ChorusKernels", "ChorusTokenizers", "ChorusRuntime", "ChorusModels", "ChorusPipeline",
                                                  "ChorusTransport"],
                swiftSettings: optimise),
        // Ranks talking to each other: the Transport protocol, and pipeline/tensor-parallel execution over it.
        .target(name: "ChorusTransport"),
        // Runs on several ranks (ModelRun: roles, abort, finalize, signals; the pipeline driver and workers).
        .target(name: "ChorusDistributed", dependencies: ["Chorus", "ChorusModels", "ChorusGGUF", "ChorusRuntime", "ChorusTransport", "ChorusPipeline"] + mpiDependency,
                swiftSettings: optimise),
        .target(name: "ChorusSpeculative", dependencies: ["ChorusModels", "ChorusKernels", "ChorusRuntime"], swiftSettings: optimise),
        // Execution plans, acceptance profiles, Sequoia tree search and the cost model (pure values, no models).
        .target(name: "ChorusPlanner", dependencies: ["ChorusRuntime", "ChorusSpeculative"]),
        // The decoding engine: sampling, stop rules, the one decode loop (drafting, chain and tree
        // verification over any ForwardPass), the continuous-batching scheduler, skeleton-of-thought,
        // plan and drafter selection. Every front end drives it.
        .target(
            name: "ChorusEngine",
            dependencies: [
                "ChorusGGUF", "ChorusKernels", "ChorusRuntime", "ChorusTokenizers", "ChorusModels", "ChorusSpeculative", "ChorusPlanner",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Chorus",
            dependencies: [
                "ChorusEngine", "ChorusGGUF", "ChorusKernels", "ChorusRuntime", "ChorusTokenizers", "ChorusModels", "ChorusPipeline",
                "ChorusSpeculative", "ChorusPlanner",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: []),
        // OpenAI-compatible HTTP server: routes, request parsing and SSE over the engine's scheduler.
        .target(
            name: "ChorusServer",
            dependencies: [
                "Chorus", "ChorusEngine", "ChorusModels", "ChorusTokenizers", "ChorusSpeculative",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "chorus",
            dependencies: ["Chorus", "ChorusPipeline", "ChorusSpeculative", "ChorusServer", "ChorusDistributed", "ChorusTransport", "ChorusPlanner",
                           "ChorusTokenizers",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),
        .target(name: "ChorusTestSupport", dependencies: ["Chorus"], path: "Tests/ChorusTestSupport"),
        .testTarget(name: "ChorusGGUFTests", dependencies: ["ChorusGGUF", "ChorusTestSupport"]),
        .testTarget(name: "ChorusKernelsTests", dependencies: ["ChorusKernels", "ChorusGGUF", "CQuantBlocks", "CChorusKernels"], exclude: ["Fixtures"]),
        .testTarget(name: "ChorusRuntimeTests", dependencies: ["ChorusRuntime", "ChorusGGUF"]),
        .testTarget(name: "ChorusOracleTests", dependencies: ["Chorus", "ChorusTestSupport"]),
        .testTarget(name: "ChorusModelsTests", dependencies: ["ChorusModels", "ChorusRuntime", "ChorusGGUF", "ChorusTestSupport"]),
        .testTarget(name: "ChorusPipelineTests", dependencies: ["ChorusPipeline"]),
        .testTarget(name: "ChorusSpeculativeTests", dependencies: ["ChorusSpeculative", "Chorus", "ChorusModels", "ChorusPlanner", "ChorusTestSupport"]),
        .testTarget(name: "ChorusPlannerTests", dependencies: ["ChorusPlanner", "ChorusRuntime", "ChorusSpeculative"]),
        .testTarget(name: "ChorusTests", dependencies: ["Chorus", "ChorusTestSupport"]),
        // The library as a user sees it: `import Chorus` only.
        .testTarget(name: "ChorusEngineTests", dependencies: ["Chorus", "ChorusTestSupport"]),
        .testTarget(name: "ChorusServerTests", dependencies: ["ChorusServer", "Chorus", "ChorusModels", "ChorusTestSupport"]),
        .testTarget(name: "ChorusDistributedTests", dependencies: ["ChorusDistributed", "Chorus", "ChorusPipeline", "ChorusTestSupport", "ChorusMPI"]),
        .testTarget(name: "ChorusTokenizersTests", dependencies: ["ChorusTokenizers", "ChorusGGUF", "ChorusTestSupport"]),
        .target(name: "ChorusTrainingTestSupport", dependencies: ["ChorusTraining", "ChorusModels", "ChorusPipeline", "ChorusTransport"],
                path: "Tests/ChorusTrainingTestSupport"),
        .testTarget(name: "ChorusTrainingTests", dependencies: ["ChorusTraining", "ChorusTrainingTestSupport", "ChorusGGUF", "ChorusTokenizers", "ChorusModels",
                                                               "ChorusPipeline", "ChorusTransport", "ChorusTestSupport", "Chorus"]),
    ] + mpiTargets
)
