#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Weights are used in place: nothing is copied at load,
/// pages are read on first touch and shared between processes that map the same model.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw GGUFError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size > 0 else { throw GGUFError.notGGUF(path: path) }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), pointer != MAP_FAILED else {
            throw GGUFError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.base = UnsafeRawPointer(pointer)
        self.size = size
    }

    /// Ask the kernel to read the range ahead (weights are about to be streamed through).
    public func adviseWillNeed() {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), size, Int32(MADV_WILLNEED))
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}
