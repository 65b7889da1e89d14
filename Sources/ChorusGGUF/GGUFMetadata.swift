/// The key-value metadata of a GGUF file, in file order, with typed accessors that throw readable errors.
public struct GGUFMetadata: Sendable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: GGUFValue] = [:]

    public init() {}

    public init(_ pairs: [(String, GGUFValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> GGUFValue? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }

    public func contains(_ key: String) -> Bool { values[key] != nil }

    public func int(_ key: String) throws -> Int {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard let int = value.intValue else { throw GGUFError.wrongType(key: key, expected: "an integer") }
        return int
    }

    public func int(_ key: String, default fallback: Int) throws -> Int {
        values[key] == nil ? fallback : try int(key)
    }

    public func float(_ key: String) throws -> Float {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard let double = value.doubleValue else { throw GGUFError.wrongType(key: key, expected: "a number") }
        return Float(double)
    }

    public func float(_ key: String, default fallback: Float) throws -> Float {
        values[key] == nil ? fallback : try float(key)
    }

    public func string(_ key: String) throws -> String {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard let string = value.stringValue else { throw GGUFError.wrongType(key: key, expected: "a string") }
        return string
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = values[key] else { return fallback }
        if let b = value.boolValue { return b }
        if let i = value.intValue { return i != 0 }
        throw GGUFError.wrongType(key: key, expected: "a bool")
    }

    public func strings(_ key: String) throws -> [String] {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard case .array(.string, let items) = value else { throw GGUFError.wrongType(key: key, expected: "an array of strings") }
        return items.map { $0.stringValue ?? "" }
    }

    public func floats(_ key: String) throws -> [Float] {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard case .array(_, let items) = value else { throw GGUFError.wrongType(key: key, expected: "an array of numbers") }
        return try items.map {
            guard let d = $0.doubleValue else { throw GGUFError.wrongType(key: key, expected: "an array of numbers") }
            return Float(d)
        }
    }

    public func ints(_ key: String) throws -> [Int] {
        guard let value = values[key] else { throw GGUFError.missingKey(key) }
        guard case .array(_, let items) = value else { throw GGUFError.wrongType(key: key, expected: "an array of integers") }
        return try items.map {
            guard let i = $0.intValue else { throw GGUFError.wrongType(key: key, expected: "an array of integers") }
            return i
        }
    }
}
