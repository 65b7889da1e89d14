import ChorusKernels
import Foundation
import Testing

/// The int8 paths the kernel tests loop over, and what they say about it.
///
/// By default a test runs every path the CPU has. `CHORUS_KERNEL_PATH` (`swift`, `avx2`, `avxvnni`,
/// `avx512vnni`) forces one: the test then runs the Swift path (the reference) and that path, and fails
/// if the CPU does not give it (scripts/kernel-paths.sh forces each path /proc/cpuinfo claims). Each
/// test prints, once, the paths that ran and those left out, so a path that never ran is visible.
enum KernelPaths {
    static let variable = "CHORUS_KERNEL_PATH"

    /// A path's name in `CHORUS_KERNEL_PATH` and in the output: the case name in lower case.
    static func name(_ path: MatMul.Path) -> String { String(describing: path).lowercased() }

    /// The path `CHORUS_KERNEL_PATH` names; nil when unset; a recorded issue when it names none.
    static func forced() -> (path: MatMul.Path?, valid: Bool) {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return (nil, true) }
        guard let path = MatMul.Path.allCases.first(where: { name($0) == value.lowercased() }) else {
            Issue.record("\(variable)=\(value) names no path (\(MatMul.Path.allCases.map(name).joined(separator: ", ")))")
            return (nil, false)
        }
        return (path, true)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var reported: Set<String> = []

    /// Prints `line` the first time `test` reports.
    static func report(_ test: String, _ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if reported.insert(test).inserted { print("kernel paths, \(test): \(line)") }
    }
}

/// Runs `body` once per int8 path (see `KernelPaths`), restoring the default path afterwards.
func forEachPath(test: String = #function, _ body: (MatMul.Path) -> Void) {
    let original = MatMul.path
    defer { MatMul.setPath(original) }
    let (forced, valid) = KernelPaths.forced()
    guard valid else { return }
    var ran: [MatMul.Path] = [], absent: [MatMul.Path] = [], leftOut: [MatMul.Path] = []
    for path in MatMul.Path.allCases {
        if MatMul.setPath(path) != path {
            absent.append(path)
        } else if let forced, path != forced, path != .swift {
            leftOut.append(path)
        } else {
            ran.append(path)
            body(path)
        }
    }
    if let forced, absent.contains(forced) {
        let best = MatMul.Path.allCases.last { !absent.contains($0) }!
        Issue.record("\(KernelPaths.variable)=\(KernelPaths.name(forced)) forces a path this CPU does not give (best: \(KernelPaths.name(best)))")
    }
    func names(_ paths: [MatMul.Path]) -> String { paths.map(KernelPaths.name).joined(separator: ", ") }
    var line = "ran \(names(ran))"
    if let forced { line += " (\(KernelPaths.variable)=\(KernelPaths.name(forced)))" }
    if !leftOut.isEmpty { line += "; not forced: \(names(leftOut))" }
    if !absent.isEmpty { line += "; absent from this CPU: \(names(absent))" }
    KernelPaths.report(test, line)
}
