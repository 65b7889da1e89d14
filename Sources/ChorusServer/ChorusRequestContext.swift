import Hummingbird

/// Hummingbird's basic context plus a way to ask whether the client is still connected, so a
/// non-streaming request whose client hung up frees its slot without waiting to write the answer.
struct ChorusRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let isConnected: @Sendable () -> Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        isConnected = { channel.isActive }
    }
}
