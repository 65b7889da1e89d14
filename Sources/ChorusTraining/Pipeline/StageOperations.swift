import ChorusModels

/// What the executor keeps between a forward and its input-gradient backward (B), or between B and the
/// weight-gradient backward (W); its size is what "stored activations" measures.
public protocol StoredActivations: AnyObject {
    /// Bytes held.
    var byteCount: Int { get }
}

/// The compute a pipeline executor drives: one model, cut into `partCount` consecutive parts (route stage
/// k of every schedule is part k, whichever rank and local chunk the layout puts it on), with each part's
/// forward, input-gradient backward and weight-gradient backward as separate calls so a schedule can run
/// W later than B. The transformer implements it over its blocks (a part = a range of layers, the first
/// also embedding the tokens, the last also computing the loss); the tests implement it over a stack of f32
/// layers.
///
/// Contract (each rank holds its own instance; calls come from one thread):
/// - `forward` of part 0 reads the micro-batch's inputs itself (`input` nil); any other part reads `input`
///   (the previous part's output, `boundaryCount(batch, part: part - 1)` floats, valid during the call
///   only). Parts before the last write `output` (`boundaryCount(batch, part: part)` floats); the last part
///   gets no output buffer and returns the micro-batch's loss summed over its loss tokens.
/// - `backwardInput` consumes the forward's activations and the gradient of the part's output (nil for the
///   last part, which starts from its loss with d(step loss)/d(token loss) = `lossScale`), writes the
///   gradient of its input (nil buffer for part 0) and returns what W needs.
/// - `backwardWeight` adds the part's weight gradients into `parameters(part:)`' `gradient`s. The executor
///   runs it right after B when the schedule does not split the backward.
/// - A rank only gets calls for the parts the schedule places on it; `parameters(part:)` is asked only for
///   those, and the same parameter objects must be returned every time.
public protocol StageOperations: AnyObject {
    associatedtype MicroBatch
    associatedtype Activations: StoredActivations
    associatedtype WeightInputs: StoredActivations

    /// Parts of the model; must equal the schedule's route length.
    var partCount: Int { get }
    /// Floats of the activation leaving `part` for `batch` (and of the gradient flowing back into it).
    func boundaryCount(_ batch: MicroBatch, part: Int) -> Int
    /// Forward of one part on one micro-batch.
    func forward(_ batch: MicroBatch, part: Int, input: UnsafeBufferPointer<Float>?,
                 output: UnsafeMutableBufferPointer<Float>?) throws -> (activations: Activations, lossSum: Double?)
    /// B: the gradient of the part's input from the gradient of its output.
    func backwardInput(_ batch: MicroBatch, part: Int, activations: Activations, outputGradient: UnsafeBufferPointer<Float>?,
                       lossScale: Float, inputGradient: UnsafeMutableBufferPointer<Float>?) throws -> WeightInputs
    /// W: the part's weight gradients, accumulated into its parameters.
    func backwardWeight(_ batch: MicroBatch, part: Int, inputs: WeightInputs) throws
    /// The trainable parameters of `part` (held on this rank).
    func parameters(part: Int) -> [Parameter]
}
