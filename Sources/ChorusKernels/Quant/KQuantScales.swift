/// The packed 6-bit sub-block scales of the K-quants, decoded as ggml does.
///
/// Q4_K and Q5_K keep 8 scales and 8 mins in `scales[12]` (ggml's `get_scale_min_k4`): entries 0..3
/// are the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); entries 4..7 take their low 4 bits
/// from bytes 8..11 and their top 2 bits from the spare top bits of bytes 0..7.
enum KQuantScales {
    /// Scale and min of sub-block `j` (0..<8) of a Q4_K/Q5_K super-block; `q` points at `scales[12]`.
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        func byte(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (byte(j) & 63, byte(j + 4) & 63) }
        return ((byte(j + 4) & 0x0F) | ((byte(j - 4) >> 6) << 4), (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4))
    }

    /// The 16 signed scales of a Q3_K super-block (6-bit values stored with a +32 bias); `q` points
    /// at `scales[12]`: low 4 bits of scale j in the nibbles of bytes 0..7 (j < 8 low, j >= 8 high),
    /// top 2 bits in bytes 8..11 at bit 2*(j/4).
    @inline(__always)
    static func q3Scale(_ j: Int, _ q: UnsafeRawPointer) -> Int {
        func byte(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
        let low = j < 8 ? byte(j) & 0x0F : byte(j - 8) >> 4
        let high = (byte(8 + j % 4) >> UInt8(2 * (j / 4))) & 3
        return Int(low | high << 4) - 32
    }
}
