/// Byte layouts of the quantised blocks, as in ggml-common.h. `d`/`m`/`dmin` are IEEE half floats
/// unless noted; all multi-byte fields are little-endian. Offsets are from the block start.
///
/// 32-weight blocks:
/// - `Q4_0` (18 B, 4.5 bpw): d @0, qs[16] @2 — weight i = d * (nibble - 8); nibbles: low halves
///   of qs hold weights 0..15, high halves weights 16..31.
/// - `Q4_1` (20 B, 5 bpw): d @0, m @2, qs[16] @4 — weight = d * nibble + m.
/// - `Q5_0` (22 B, 5.5 bpw): d @0, qh u32 @2, qs[16] @6 — 5th bit of weight i is bit i of qh; weight = d * (q - 16).
/// - `Q5_1` (24 B, 6 bpw): d @0, m @2, qh u32 @4, qs[16] @8 — weight = d * q + m.
/// - `Q8_0` (34 B, 8.5 bpw): d @0, qs[32] int8 @2 — weight = d * q.
/// - `Q8_1` (36 B): d @0, s @2 (= d * sum q), qs[32] @4.
///
/// 256-weight "K" super-blocks (QK_K = 256), 6-bit sub-block scales packed in `scales[12]`:
/// - `Q2_K` (84 B, 2.625 bpw): scales[16] @0 (low nibble scale, high nibble min per 16 weights), qs[64] @16, d @80, dmin @82.
/// - `Q3_K` (110 B, 3.4375 bpw): hmask[32] @0, qs[64] @32, scales[12] @96 (16 six-bit scales), d @108.
/// - `Q4_K` (144 B, 4.5 bpw): d @0, dmin @2, scales[12] @4 (8 six-bit scales + 8 six-bit mins), qs[128] @16.
/// - `Q5_K` (176 B, 5.5 bpw): d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48.
/// - `Q6_K` (210 B, 6.5625 bpw): ql[128] @0, qh[64] @128, scales[16] int8 @192, d @208.
/// - `Q8_K` (292 B): d f32 @0, qs[256] int8 @4, bsums[16] int16 @260.
public enum QuantBlocks {
    /// ggml's QK_K: weights per K-quant super-block.
    public static let superBlock = 256
    /// Weights per block of the 32-weight formats.
    public static let block = 32
}
