/// Where one tensor lives in the file and what shape and type it has.
///
/// `dimensions` follow ggml's order: `dimensions[0]` is the contiguous (column) axis, so a
/// weight matrix of `rows` x `columns` has `dimensions == [columns, rows]`.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the first byte relative to the start of the tensor data section.
    public let offset: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Contiguous elements per row (ggml's ne[0]).
    public var columns: Int { dimensions.first ?? 1 }
    /// Rows of a matrix view: product of all dimensions but the first.
    public var rows: Int { dimensions.dropFirst().reduce(1, *) }
    public var byteCount: Int { elementCount / type.blockSize * type.bytesPerBlock }

    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
    }
}
