import ChorusGGUF

/// A weight matrix used in place from the mapped file: `rows` x `columns`, each row a run of
/// `rowBytes` bytes of `type` blocks. Rows are the output features of a linear layer.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    public let rowBytes: Int
    public let data: UnsafeRawPointer

    public init(name: String, type: GGMLType, rows: Int, columns: Int, data: UnsafeRawPointer) {
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.rowBytes = type.rowBytes(columns: columns) ?? 0
        self.data = data
    }

    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    public var byteCount: Int { rows * rowBytes }
}

/// Errors raised when a model asks the kernels for something they do not do.
public enum KernelError: Error, CustomStringConvertible {
    case unsupportedType(GGMLType, tensor: String)

    public var description: String {
        switch self {
        case .unsupportedType(let type, let tensor): return "tensor type \(type) of '\(tensor)' is not supported"
        }
    }
}
