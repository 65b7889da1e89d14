/// Why training cannot go on, as one line a user can act on.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A command-line option out of range or malformed.
    case invalidOption(String)
    /// Training data that cannot be used (empty, malformed, too long).
    case invalidData(String)
    /// An adapter file that does not fit the model or is not a LoRA adapter.
    case invalidAdapter(String)
    /// A checkpoint that cannot be read or does not match the run.
    case invalidCheckpoint(String)
    /// A file that cannot be written.
    case cannotWrite(String)
    /// A schedule the executor cannot run, or ranks that disagree.
    case invalidPipeline(String)

    public var description: String {
        switch self {
        case .invalidOption(let m), .invalidData(let m), .invalidAdapter(let m), .invalidCheckpoint(let m),
             .cannotWrite(let m), .invalidPipeline(let m):
            return m
        }
    }
}
