import ChorusGGUF
import ChorusModels
import Foundation

/// Everything a run needs to continue bit-identically (`--resume`): the trainable parameters (the adapter's
/// factors), AdamW's step and moments, the optimiser steps done, the data order's position and generator
/// state, and the run's settings (checked on resume so a checkpoint is not continued with other options).
///
/// Stored as one GGUF file written atomically (`AtomicFile`): metadata `general.type = chorus.checkpoint`,
/// `general.architecture`, `adapter.lora.alpha`, `chorus.checkpoint.*` (version, step, AdamW step and
/// hyperparameters, data order and settings as JSON text); tensors: every parameter under its own name
/// plus `<name>.adam_m` and `<name>.adam_v`, all f32 (so values round-trip exactly).
public struct TrainingCheckpoint: Sendable {
    public static let version = 1

    public var architecture: String
    public var alpha: Float
    public var parameters: [Parameter]
    public var optimizer: AdamW
    /// Optimiser steps completed.
    public var step: Int
    public var data: DataOrder
    /// The run's settings (model, LoRA shape, schedule, data, seed ...) as the trainer serialises them.
    public var settings: String

    public init(architecture: String, alpha: Float, parameters: [Parameter], optimizer: AdamW, step: Int, data: DataOrder, settings: String) {
        self.architecture = architecture
        self.alpha = alpha
        self.parameters = parameters
        self.optimizer = optimizer
        self.step = step
        self.data = data
        self.settings = settings
    }

    /// The checkpoint of a LoRA run.
    public init(adapter: LoRAAdapter, optimizer: AdamW, step: Int, data: DataOrder, settings: String) {
        self.init(architecture: adapter.architecture, alpha: adapter.alpha, parameters: adapter.parameters, optimizer: optimizer,
                  step: step, data: data, settings: settings)
    }

    /// The adapter the parameters form (for LoRA runs).
    public func adapter() throws -> LoRAAdapter {
        var byBase: [String: (a: Parameter?, b: Parameter?)] = [:]
        for p in parameters {
            if p.name.hasSuffix(".lora_a") { byBase[String(p.name.dropLast(7)), default: (nil, nil)].a = p }
            else if p.name.hasSuffix(".lora_b") { byBase[String(p.name.dropLast(7)), default: (nil, nil)].b = p }
        }
        let pairs: [LoRAAdapter.Pair] = try byBase.map { base, half in
            guard let a = half.a, let b = half.b, let (layer, target) = LoRAAdapter.parseBaseName(base) else {
                throw TrainingError.invalidCheckpoint("the checkpoint's parameters do not form LoRA pairs ('\(base)')")
            }
            return LoRAAdapter.Pair(layer: layer, target: target, a: a, b: b)
        }
        return LoRAAdapter(architecture: architecture, alpha: alpha, pairs: pairs)
    }

    func serialised() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = GGUFMetadata()
        metadata["general.architecture"] = .string(architecture)
        metadata["general.type"] = .string("chorus.checkpoint")
        metadata["adapter.lora.alpha"] = .float32(alpha)
        metadata["chorus.checkpoint.version"] = .uint32(UInt32(Self.version))
        metadata["chorus.checkpoint.step"] = .uint64(UInt64(step))
        metadata["chorus.checkpoint.adam_step"] = .uint64(UInt64(optimizer.step))
        metadata["chorus.checkpoint.adam"] = .string(String(decoding: try encoder.encode(optimizer.hyperparameters), as: UTF8.self))
        metadata["chorus.checkpoint.data"] = .string(String(decoding: try encoder.encode(data), as: UTF8.self))
        metadata["chorus.checkpoint.settings"] = .string(settings)
        var writer = GGUFWriter(metadata: metadata)
        for p in parameters {
            writer.add(p.name, dimensions: p.dimensions, floats: p.values)
            if let moments = optimizer.moments[p.name] {
                writer.add(p.name + ".adam_m", dimensions: p.dimensions, floats: moments.m)
                writer.add(p.name + ".adam_v", dimensions: p.dimensions, floats: moments.v)
            }
        }
        return writer.serialise()
    }

    /// Writes the checkpoint atomically: an interrupted write leaves the previous checkpoint at `path`
    /// intact. `interruptAfter` (tests) stops after that many bytes as a killed run would.
    public func write(to path: String, interruptAfter: Int? = nil) throws {
        try AtomicFile.write(try serialised(), to: path, interruptAfter: interruptAfter)
    }

    public static func load(path: String) throws -> TrainingCheckpoint {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw TrainingError.invalidCheckpoint("cannot read checkpoint '\(path)': \(error)") }
        func fail(_ message: String) -> TrainingError { .invalidCheckpoint("checkpoint '\(path)': \(message)") }
        let meta = file.metadata
        guard meta["general.type"]?.stringValue == "chorus.checkpoint" else { throw fail("not a Chorus training checkpoint (general.type)") }
        guard meta["chorus.checkpoint.version"]?.intValue == Self.version else { throw fail("unsupported checkpoint version") }
        guard let architecture = meta["general.architecture"]?.stringValue, let alpha = meta["adapter.lora.alpha"]?.doubleValue,
              let step = meta["chorus.checkpoint.step"]?.intValue, let adamStep = meta["chorus.checkpoint.adam_step"]?.intValue,
              let adam = meta["chorus.checkpoint.adam"]?.stringValue, let dataText = meta["chorus.checkpoint.data"]?.stringValue,
              let settings = meta["chorus.checkpoint.settings"]?.stringValue else { throw fail("a chorus.checkpoint key is missing") }
        let decoder = JSONDecoder()
        let hyper: AdamW.Hyperparameters, data: DataOrder
        do {
            hyper = try decoder.decode(AdamW.Hyperparameters.self, from: Data(adam.utf8))
            data = try decoder.decode(DataOrder.self, from: Data(dataText.utf8))
        } catch { throw fail("damaged optimiser or data state (\(error))") }
        var parameters: [Parameter] = []
        var moments: [String: AdamW.Moments] = [:]
        for info in file.tensors where !info.name.hasSuffix(".adam_m") && !info.name.hasSuffix(".adam_v") {
            guard info.type == .f32 else { throw fail("tensor '\(info.name)' is not f32") }
            let parameter = Parameter(name: info.name, dimensions: info.dimensions, values: try LoRAAdapter.floats(file, info))
            parameters.append(parameter)
            if let m = file.info(info.name + ".adam_m"), let v = file.info(info.name + ".adam_v") {
                guard m.elementCount == parameter.count, v.elementCount == parameter.count else { throw fail("AdamW state of '\(info.name)' has the wrong size") }
                moments[info.name] = AdamW.Moments(m: try LoRAAdapter.floats(file, m), v: try LoRAAdapter.floats(file, v))
            }
        }
        return TrainingCheckpoint(architecture: architecture, alpha: Float(alpha), parameters: parameters,
                                  optimizer: AdamW(hyper, step: adamStep, moments: moments), step: step, data: data, settings: settings)
    }

    /// Copies the checkpoint's values and optimiser state into a run's parameters (same names and sizes),
    /// returning the optimiser to continue with.
    public func restore(into target: [Parameter]) throws -> AdamW {
        let saved = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for p in target {
            guard let s = saved[p.name], s.count == p.count else {
                throw TrainingError.invalidCheckpoint("the checkpoint has no parameter '\(p.name)' of \(p.count) values (another model or LoRA shape?)")
            }
            p.values = s.values
        }
        return optimizer
    }
}
