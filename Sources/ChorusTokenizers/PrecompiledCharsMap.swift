/// SentencePiece's precompiled normalisation map (`tokenizer.ggml.precompiled_charsmap`): a
/// XOR-compressed compact double array (XCDA) of input byte sequences whose leaves point at
/// NUL-terminated replacement strings, as read by llama.cpp's `llm_tokenizer_ugm`.
///
/// Layout: a little-endian UInt32 blob size, that many bytes of packed UInt32 nodes (BASE in bits
/// 10-30, shifted left by 8 when bit 9 is set; LEAF in bit 8; LCHECK in bits 0-7 and 31), then the
/// replacement strings. Lookups never read outside the map: an index past it ends the match.
struct PrecompiledCharsMap: Sendable {
    private let nodes: [UInt32]
    private let replacements: [UInt8]

    /// - Throws: `TokenizerError.invalidValue` when the blob size does not fit in the map.
    init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 4 else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.precompiled_charsmap", reason: "\(bytes.count) bytes, too small for its header")
        }
        let blobSize = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard blobSize + 4 < bytes.count else {
            throw TokenizerError.invalidValue(key: "tokenizer.ggml.precompiled_charsmap",
                                              reason: "the node array (\(blobSize) bytes) does not fit in \(bytes.count) bytes")
        }
        nodes = stride(from: 4, to: 4 + blobSize / 4 * 4, by: 4).map { i in
            UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        }
        replacements = Array(bytes[(4 + blobSize)...])
    }

    /// The replacement for the longest mapped prefix of `input[start...]` and that prefix's length, or nil.
    func longestMatch(_ input: UnsafeBufferPointer<UInt8>, from start: Int) -> (replacement: ArraySlice<UInt8>, length: Int)? {
        guard var node = base(0) else { return nil }
        var best: (offset: Int, length: Int)?
        var position = start
        while position < input.count {
            let c = input[position]
            if c == 0 { break }
            node ^= Int(c)
            guard let entry = packed(node), entry & (1 << 31 | 0xFF) == UInt32(c) else { break }
            let isLeaf = (entry >> 8) & 1 == 1
            guard let nextBase = base(node) else { break }
            node ^= nextBase
            if isLeaf {
                guard let value = packed(node) else { break }
                best = (Int(value & (1 << 31 - 1)), position - start + 1)
            }
            position += 1
        }
        guard let best, best.offset < replacements.count,
              let end = replacements[best.offset...].firstIndex(of: 0) else { return nil }
        return (replacements[best.offset ..< end], best.length)
    }

    private func packed(_ index: Int) -> UInt32? {
        index >= 0 && index < nodes.count ? nodes[index] : nil
    }

    private func base(_ index: Int) -> Int? {
        guard let packed = packed(index) else { return nil }
        return Int((packed >> 10) << ((packed & (1 << 9)) >> 6))
    }
}
