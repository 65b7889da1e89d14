import ChorusModels

extension PipelineDriver: LocalForwardPass {
    /// The driver running `transformer` (a view of rank 0's part under another execution context,
    /// `LanguageModel.with`) with the same ranks, counting passes on from this driver's count (the
    /// count only labels traces). A driver's sends are complete whenever `forward` returns, so
    /// the two can take turns; `finish` stays with the session's driver.
    public func over(_ transformer: Transformer) -> any ForwardPass {
        let view = PipelineDriver(transport: transport, layout: layout, transformer: transformer, microbatches: microbatches,
                                  recorder: recorder)
        view.forwardCount = forwardCount
        return view
    }
}
