import NIOCore

/// Closes a connection as soon as the client closes its side. Hummingbird allows half-closed
/// connections, so without this a client that hangs up while a non-streaming answer is generated
/// would keep its slot busy until the answer is written; with it the request sees the connection
/// inactive and cancels its sequences at once. (An HTTP client that half-closes on purpose and still
/// waits for the answer loses it; OpenAI clients and curl do not.)
final class HangUpHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
