import CQuantBlocks

/// Tensor element types as numbered in ggml (`enum ggml_type`), with their block geometry.
///
/// Every type is stored as blocks: `blockSize` weights packed into `bytesPerBlock` bytes. The byte
/// layout of each quantised block is declared once, in Sources/CQuantBlocks/include/quant_blocks.h
/// (with a static assertion on each size); this table reads its sizes from there.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

    /// Weights per block (1 for plain scalar types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return Int(CHORUS_QK)
        default: return Int(CHORUS_QK_K)
        }
    }

    /// Bytes per block: the size of the element type, or of the block declared in quant_blocks.h
    /// (the CQuantBlocks target, ggml-common.h's layouts), the one place block layouts are written.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return MemoryLayout<Float>.size
        case .f16, .bf16: return MemoryLayout<UInt16>.size
        case .i8: return MemoryLayout<Int8>.size
        case .i16: return MemoryLayout<Int16>.size
        case .i32: return MemoryLayout<Int32>.size
        case .i64: return MemoryLayout<Int64>.size
        case .f64: return MemoryLayout<Double>.size
        case .q4_0: return MemoryLayout<ChorusBlockQ4_0>.stride
        case .q4_1: return MemoryLayout<ChorusBlockQ4_1>.stride
        case .q5_0: return MemoryLayout<ChorusBlockQ5_0>.stride
        case .q5_1: return MemoryLayout<ChorusBlockQ5_1>.stride
        case .q8_0: return MemoryLayout<ChorusBlockQ8_0>.stride
        case .q8_1: return MemoryLayout<ChorusBlockQ8_1>.stride
        case .q2_K: return MemoryLayout<ChorusBlockQ2_K>.stride
        case .q3_K: return MemoryLayout<ChorusBlockQ3_K>.stride
        case .q4_K: return MemoryLayout<ChorusBlockQ4_K>.stride
        case .q5_K: return MemoryLayout<ChorusBlockQ5_K>.stride
        case .q6_K: return MemoryLayout<ChorusBlockQ6_K>.stride
        case .q8_K: return MemoryLayout<ChorusQ8KBlock>.stride
        case .iq2_xxs: return MemoryLayout<ChorusBlockIQ2_XXS>.stride
        case .iq2_xs: return MemoryLayout<ChorusBlockIQ2_XS>.stride
        case .iq3_xxs: return MemoryLayout<ChorusBlockIQ3_XXS>.stride
        case .iq1_s: return MemoryLayout<ChorusBlockIQ1_S>.stride
        case .iq4_nl: return MemoryLayout<ChorusBlockIQ4_NL>.stride
        case .iq3_s: return MemoryLayout<ChorusBlockIQ3_S>.stride
        case .iq2_s: return MemoryLayout<ChorusBlockIQ2_S>.stride
        case .iq4_xs: return MemoryLayout<ChorusBlockIQ4_XS>.stride
        case .iq1_m: return MemoryLayout<ChorusBlockIQ1_M>.stride
        case .tq1_0: return MemoryLayout<ChorusBlockTQ1_0>.stride
        case .tq2_0: return MemoryLayout<ChorusBlockTQ2_0>.stride
        case .mxfp4: return MemoryLayout<ChorusBlockMXFP4>.stride
        }
    }

    /// Byte offsets within a block of the half-float fields that scale its weights linearly (d, and
    /// m or dmin where a weight is d * q + m); `[]` for F32 and F16, whose values are the weights
    /// themselves; nil for the types without such a list (e.g. IQ types with packed scales).
    public var linearScaleOffsets: [Int]? {
        switch self {
        case .f32, .f16: return []
        case .q4_0: return [MemoryLayout<ChorusBlockQ4_0>.offset(of: \.d)!]
        case .q5_0: return [MemoryLayout<ChorusBlockQ5_0>.offset(of: \.d)!]
        case .q8_0: return [MemoryLayout<ChorusBlockQ8_0>.offset(of: \.d)!]
        case .q4_1: return [MemoryLayout<ChorusBlockQ4_1>.offset(of: \.d)!, MemoryLayout<ChorusBlockQ4_1>.offset(of: \.m)!]
        case .q5_1: return [MemoryLayout<ChorusBlockQ5_1>.offset(of: \.d)!, MemoryLayout<ChorusBlockQ5_1>.offset(of: \.m)!]
        case .q2_K: return [MemoryLayout<ChorusBlockQ2_K>.offset(of: \.d)!, MemoryLayout<ChorusBlockQ2_K>.offset(of: \.dmin)!]
        case .q3_K: return [MemoryLayout<ChorusBlockQ3_K>.offset(of: \.d)!]
        case .q4_K: return [MemoryLayout<ChorusBlockQ4_K>.offset(of: \.d)!, MemoryLayout<ChorusBlockQ4_K>.offset(of: \.dmin)!]
        case .q5_K: return [MemoryLayout<ChorusBlockQ5_K>.offset(of: \.d)!, MemoryLayout<ChorusBlockQ5_K>.offset(of: \.dmin)!]
        case .q6_K: return [MemoryLayout<ChorusBlockQ6_K>.offset(of: \.d)!]
        default: return nil
        }
    }

    /// The name ggml prints (`Q4_K`, `F16`, ...).
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_xxs: return "IQ2_XXS"
        case .iq2_xs: return "IQ2_XS"
        case .iq3_xxs: return "IQ3_XXS"
        case .iq1_s: return "IQ1_S"
        case .iq4_nl: return "IQ4_NL"
        case .iq3_s: return "IQ3_S"
        case .iq2_s: return "IQ2_S"
        case .iq4_xs: return "IQ4_XS"
        case .iq1_m: return "IQ1_M"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        }
    }

    public var description: String { name }

    /// Bytes needed for one row of `columns` weights; nil if `columns` is not a whole number of blocks.
    public func rowBytes(columns: Int) -> Int? {
        guard columns >= 0, columns % blockSize == 0 else { return nil }
        return columns / blockSize * bytesPerBlock
    }
}
