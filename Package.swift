// swift-tools-version: 6.0
import PackageDescription

/// Chorus: one module per concern. Dependencies point downwards only:
/// GGUF -> Kernels -> Runtime -> Models -> Chorus (library API) -> chorus (CLI).
/// Hot numeric code drops overflow and bounds traps in release builds; parsers of untrusted input keep them.
let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

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
    ],
    targets: [
        // Instruction-level kernels Swift SIMD cannot express (int8 multiply-add); each has a Swift twin.
        .target(name: "CChorusKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "ChorusGGUF"),
        .target(name: "ChorusKernels", dependencies: ["ChorusGGUF", "CChorusKernels"], swiftSettings: optimise),
        .target(name: "ChorusRuntime", dependencies: ["ChorusKernels"], swiftSettings: optimise),
        .target(name: "ChorusTokenizers", dependencies: ["ChorusGGUF"]),
        .target(name: "ChorusModels", dependencies: ["ChorusGGUF", "ChorusKernels", "ChorusRuntime"], swiftSettings: optimise),
        .target(name: "ChorusPipeline"),
        .target(
            name: "Chorus",
            dependencies: [
                "ChorusGGUF", "ChorusKernels", "ChorusRuntime", "ChorusTokenizers", "ChorusModels", "ChorusPipeline",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: []),
        .executableTarget(
            name: "chorus",
            dependencies: ["Chorus", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .target(name: "ChorusTestSupport", dependencies: ["Chorus"], path: "Tests/ChorusTestSupport"),
        .testTarget(name: "ChorusGGUFTests", dependencies: ["ChorusGGUF", "ChorusTestSupport"]),
        .testTarget(name: "ChorusTokenizersTests", dependencies: ["ChorusTokenizers", "ChorusGGUF"]),
    ]
)
