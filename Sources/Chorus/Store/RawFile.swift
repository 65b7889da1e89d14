import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened with open(2), read or written through one caller-owned buffer: streaming a gigabyte allocates
/// nothing per piece. Errors come back as `ModelStoreError` naming the file.
struct RawFile {
    let path: String
    private let descriptor: Int32

    /// Opens `path` for reading.
    static func reading(_ path: String) throws -> RawFile {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ModelStoreError.readFailed(path: path, detail: lastError()) }
        return RawFile(path: path, descriptor: descriptor)
    }

    /// Creates or truncates `path` for writing (mode 0644).
    static func writing(_ path: String) throws -> RawFile {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw ModelStoreError.writeFailed(path: path, detail: lastError()) }
        return RawFile(path: path, descriptor: descriptor)
    }

    /// Reads up to `buffer.count` bytes into `buffer`; returns how many, 0 at the end of the file.
    func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw ModelStoreError.readFailed(path: path, detail: lastError()) }
        }
    }

    /// Writes all of `bytes`.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw ModelStoreError.writeFailed(path: path, detail: lastError())
            }
            offset += count
        }
    }

    /// Flushes written data to the disk (before the file is renamed into place).
    func synchronize() throws {
        guard fsync(descriptor) == 0 else { throw ModelStoreError.writeFailed(path: path, detail: lastError()) }
    }

    func closeFile() {
        _ = close(descriptor)
    }
}

/// `mkdir -p`: creates `path` and missing parents; errors name the folder that could not be made and why.
func makeDirectories(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty, parent != path { try makeDirectories(parent) }
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
        throw ModelStoreError.writeFailed(path: path, detail: lastError())
    }
}

/// strerror(errno).
func lastError() -> String {
    String(cString: strerror(errno))
}
