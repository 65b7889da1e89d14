import ChorusGGUF

/// The reference format for each weight type, or nil where Chorus cannot read it yet.
public func quantFormat(for type: GGMLType) -> (any QuantFormat.Type)? {
    switch type {
    case .f32: return F32Format.self
    case .f16: return F16Format.self
    case .bf16: return BF16Format.self
    case .q4_0: return Q4_0.self
    case .q4_1: return Q4_1.self
    case .q5_0: return Q5_0.self
    case .q5_1: return Q5_1.self
    case .q8_0: return Q8_0.self
    case .q2_K: return Q2_K.self
    case .q3_K: return Q3_K.self
    case .q4_K: return Q4_K.self
    case .q5_K: return Q5_K.self
    case .q6_K: return Q6_K.self
    case .q8_K: return Q8_K.self
    default: return nil
    }
}

extension WeightMatrix {
    /// Expand row `r` into `count == columns` floats (embedding lookups, reference checks).
    public func dequantizeRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        guard let format = quantFormat(for: type) else { preconditionFailure("unchecked weight type \(type)") }
        format.dequantize(row(r), into: dst, count: columns)
    }

    /// Throws unless the kernels can read this matrix.
    public func checkReadable() throws {
        guard quantFormat(for: type) != nil else { throw KernelError.unsupportedType(type, tensor: name) }
    }
}
