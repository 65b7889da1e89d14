/// A piece of input after special tokens have been cut out: either raw text (a byte range of the
/// input) or a special token.
enum TextFragment: Equatable {
    case text(Range<Int>)
    case token(Int)
}

/// Cuts special tokens (control, user-defined, unknown) out of the input before normal tokenization,
/// giving exactly the fragments of llama.cpp's `tokenizer_st_partition`.
///
/// llama.cpp takes the special tokens longest first and, for each, splits every remaining text fragment
/// at all its leftmost non-overlapping occurrences. Searching the text once per special token is slow for
/// Gemma's 6,000-odd special tokens, so we find every occurrence of every special token in one pass with
/// a byte trie, then replay llama.cpp's order: token by token (longest first), accept an occurrence when
/// it lies wholly in text no earlier token claimed and does not overlap this token's previous accepted
/// occurrence. That yields the same fragments.
///
/// Control and unknown tokens are only looked for with `parseSpecial`; user-defined tokens always are.
/// (llama.cpp's lstrip/rstrip attributes are set only for phi-3 and some BERT models; not reproduced.)
struct SpecialTokenSplitter: Sendable {
    private struct Node: Sendable {
        var children: [UInt8: Int32] = [:]
        /// Index into `tokens` of the token ending here, or -1.
        var tokenIndex: Int32 = -1
    }

    private var nodes: [Node] = [Node()]
    /// Special tokens in priority order: (id, byte length, only with parseSpecial).
    private var tokens: [(id: Int, length: Int, needsParseSpecial: Bool)] = []
    private var isFirstByte = [Bool](repeating: false, count: 256)

    init(vocabulary: Vocabulary) {
        for id in vocabulary.specialTokens {
            let text = vocabulary.text(of: id)
            guard !text.isEmpty else { continue }
            let needsParseSpecial = !vocabulary.attributes[id].isDisjoint(with: [.control, .unknown])
            let tokenIndex = Int32(tokens.count)
            tokens.append((id, text.count, needsParseSpecial))
            isFirstByte[Int(text.first!)] = true
            var node = 0
            for byte in text {
                if let child = nodes[node].children[byte] {
                    node = Int(child)
                } else {
                    nodes.append(Node())
                    let child = nodes.count - 1
                    nodes[node].children[byte] = Int32(child)
                    node = child
                }
            }
            if nodes[node].tokenIndex < 0 { nodes[node].tokenIndex = tokenIndex }
        }
    }

    /// Splits `bytes` into text and special-token fragments, in input order.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        let n = bytes.count
        guard n > 0 else { return [] }
        // Every occurrence of every eligible special token: (priority, start).
        var occurrences: [(priority: Int32, start: Int)] = []
        for start in 0 ..< n where isFirstByte[Int(bytes[start])] {
            var node = 0
            var position = start
            while position < n, let child = nodes[node].children[bytes[position]] {
                node = Int(child)
                position += 1
                let tokenIndex = nodes[node].tokenIndex
                if tokenIndex >= 0, parseSpecial || !tokens[Int(tokenIndex)].needsParseSpecial {
                    occurrences.append((tokenIndex, start))
                }
            }
        }
        guard !occurrences.isEmpty else { return [.text(0 ..< n)] }
        occurrences.sort { $0.priority != $1.priority ? $0.priority < $1.priority : $0.start < $1.start }

        // Replay llama.cpp's token-by-token partition.
        var claimed = [Bool](repeating: false, count: n)
        var accepted: [(start: Int, length: Int, id: Int)] = []
        var currentPriority: Int32 = -1
        var lastEnd = 0
        for occurrence in occurrences {
            if occurrence.priority != currentPriority {
                currentPriority = occurrence.priority
                lastEnd = 0
            }
            let token = tokens[Int(occurrence.priority)]
            let end = occurrence.start + token.length
            guard occurrence.start >= lastEnd else { continue }
            var free = true
            for i in occurrence.start ..< end where claimed[i] {
                free = false
                break
            }
            guard free else { continue }
            for i in occurrence.start ..< end { claimed[i] = true }
            accepted.append((occurrence.start, token.length, token.id))
            lastEnd = end
        }
        accepted.sort { $0.start < $1.start }

        var fragments: [TextFragment] = []
        fragments.reserveCapacity(accepted.count * 2 + 1)
        var textStart = 0
        for match in accepted {
            if match.start > textStart { fragments.append(.text(textStart ..< match.start)) }
            fragments.append(.token(match.id))
            textStart = match.start + match.length
        }
        if textStart < n { fragments.append(.text(textStart ..< n)) }
        return fragments
    }
}
