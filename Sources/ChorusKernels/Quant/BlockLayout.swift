import CQuantBlocks

/// Sizes and field offsets of the block layouts declared once in quant_blocks.h (the CQuantBlocks
/// target), so that the Swift twins read exactly the bytes the C kernels read without restating a
/// number. With a literal key path both fold to constants in optimised builds.
@inlinable @inline(__always)
func blockBytes<Block>(_: Block.Type) -> Int { MemoryLayout<Block>.stride }

/// Byte offset of `field` from the start of its block.
@inlinable @inline(__always)
func fieldOffset<Block>(_ field: PartialKeyPath<Block>) -> Int { MemoryLayout<Block>.offset(of: field)! }
