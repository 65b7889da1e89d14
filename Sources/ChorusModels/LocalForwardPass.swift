/// A forward pass that runs a `Transformer` of this process: the transformer itself, or a driver
/// running its part here and the rest on other processes (`ChorusDistributed.PipelineDriver`).
///
/// A view of a model under another execution context (`Transformer.with`, `LanguageModel.with`)
/// gets the same kind of forward pass over the view's transformer through `over(_:)`, so the
/// view's settings (profiler, partition plan...) reach whatever runs its batches.
public protocol LocalForwardPass: ForwardPass {
    /// The transformer this pass runs here.
    var transformer: Transformer { get }
    /// This pass running `transformer` (a view of its own transformer) instead.
    func over(_ transformer: Transformer) -> any ForwardPass
}

extension Transformer: LocalForwardPass {
    public var transformer: Transformer { self }
    public func over(_ transformer: Transformer) -> any ForwardPass { transformer }
}
