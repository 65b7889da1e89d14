import ArgumentParser
import Chorus
import ChorusGGUF

/// `chorus inspect MODEL`: print a GGUF file's metadata and tensor table (MODEL: catalog id or path).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a GGUF file's metadata and tensors.")

    @Argument(help: "A catalog id (fetched if not cached) or a path to a .gguf file.") var model: String
    @Flag(help: "List every tensor.") var tensors = false

    func run() throws {
        let file = try GGUFFile(path: try ModelStore().resolve(model))
        print("GGUF v\(file.version), \(file.metadata.keys.count) metadata keys, \(file.tensors.count) tensors")
        for key in file.metadata.keys {
            guard let value = file.metadata[key] else { continue }
            switch value {
            case .array(let type, let items): print("  \(key): [\(type) x \(items.count)]")
            case .string(let s): print("  \(key): \(s.count > 120 ? String(s.prefix(120)) + "..." : s)")
            default: print("  \(key): \(value.doubleValue.map { "\($0)" } ?? "\(value)")")
            }
        }
        var byType: [String: Int] = [:]
        for tensor in file.tensors {
            byType[tensor.type.name, default: 0] += 1
            if tensors { print("  \(tensor.name) \(tensor.dimensions) \(tensor.type)") }
        }
        print("tensor types: " + byType.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}
