/// IEEE half float bits to Float (one `vcvtph2ps` with F16C, NEON fcvt on ARM).
@inline(__always)
public func halfToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

@inline(__always)
func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    halfToFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

/// Float to IEEE half bits (round to nearest even), for writing test fixtures and F16 caches.
@inline(__always)
public func floatToHalf(_ value: Float) -> UInt16 {
    Float16(value).bitPattern
}
