import ChorusTransport

extension Transport {
    /// Every rank's `bytes` (of any lengths), in rank order, on every rank: the lengths are gathered first,
    /// then the contributions padded to the longest.
    public func allGatherVariable(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var length = UInt64(bytes.count).littleEndian
        let lengths = try allGather(withUnsafeBytes(of: &length) { Array($0) }).map { raw in
            raw.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        }
        let longest = lengths.max() ?? 0
        let all = try allGather(bytes + Array(repeating: 0, count: longest - bytes.count))
        return zip(all, lengths).map { Array($0[0..<$1]) }
    }
}
