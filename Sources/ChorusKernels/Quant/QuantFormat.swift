import CQuantBlocks
import ChorusGGUF

/// What the kernels know about one weight type: how to expand it to floats (the reference every fast
/// path is tested against) and, for the types with an int8 path, the portable lane-exact dot product.
public protocol QuantFormat {
    static var type: GGMLType { get }
    /// Expand `count` weights (a whole number of blocks) starting at `src`.
    static func dequantize(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int)
}

/// A weight type whose rows multiply Q8 activation blocks with integer arithmetic.
public protocol Int8DotFormat: QuantFormat {
    /// Dot product of one weight row (`blocks` blocks of 32) with one activation row, in the
    /// `LaneAccumulator` order. The C kernels must return exactly this value.
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8Block>, blocks: Int) -> Float
}

/// A K-quant weight type: rows of 256-weight super-blocks multiply Q8_K activation super-blocks
/// (`ChorusQ8KBlock`) with integer arithmetic.
public protocol Int8KDotFormat: QuantFormat {
    /// Dot product of one weight row (`blocks` super-blocks) with one activation row. The integer
    /// lanes and the order in which they meet the float accumulators follow ggml's AVX2
    /// ggml_vec_dot_<type>_q8_K (see each type); the C kernels must return exactly this value.
    static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<ChorusQ8KBlock>, blocks: Int) -> Float
}
