#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a whole file so that readers see either the previous file or the new one, never a part: the
/// bytes go to a temporary file beside the target (`<path>.tmp-<pid>`), are flushed to disk (fsync), and
/// the temporary file is renamed over the target (rename is atomic within a file system). A run killed
/// mid-write leaves the previous file untouched and at most a stale temporary file, which the next write
/// of the same path replaces.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically; `interruptAfter` (tests only) stops after that many bytes as a
    /// killed process would, leaving the temporary file behind and the target untouched, and throws.
    public static func write(_ bytes: [UInt8], to path: String, interruptAfter: Int? = nil) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TrainingError.cannotWrite("cannot write '\(path)': \(errorText())") }
        var written = 0
        let limit = min(bytes.count, interruptAfter ?? bytes.count)
        let failure: String? = bytes.withUnsafeBytes { raw in
            while written < limit {
                let n = systemWrite(fd, raw.baseAddress! + written, limit - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errorText()
                }
                written += n
            }
            return nil
        }
        if let failure {
            close(fd)
            unlink(temporary)
            throw TrainingError.cannotWrite("cannot write '\(path)': \(failure)")
        }
        if interruptAfter != nil && limit < bytes.count {
            close(fd)
            throw TrainingError.cannotWrite("writing '\(path)' was interrupted after \(limit) of \(bytes.count) bytes")
        }
        guard fsync(fd) == 0 else {
            let reason = errorText()
            close(fd)
            unlink(temporary)
            throw TrainingError.cannotWrite("cannot write '\(path)': \(reason)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = errorText()
            unlink(temporary)
            throw TrainingError.cannotWrite("cannot write '\(path)': \(reason)")
        }
        // Make the rename itself durable.
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}
