import Chorus
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Where and how `chorus serve` listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Requests must carry `Authorization: Bearer KEY` when set (`/health` excepted).
    public var apiKey: String?
    /// The name `/v1/models` reports and responses echo when the request names none.
    public var modelName: String
    /// How long a shutdown waits for running requests before cancelling them.
    public var shutdownGrace: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, modelName: String,
                shutdownGrace: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.modelName = modelName
        self.shutdownGrace = shutdownGrace
    }
}

/// The HTTP server: routes, authentication, and a service group that shuts down gracefully on
/// SIGINT/SIGTERM (stop accepting, let running requests finish within the grace period, cancel the
/// rest, close the listener).
public struct ChorusHTTPServer: Sendable {
    public let scheduler: BatchScheduler
    /// The counters `/metrics` shows (the scheduler's observer).
    public let metrics: ServerMetrics
    public let configuration: ServerConfiguration
    public let logger: Logger

    public init(scheduler: BatchScheduler, metrics: ServerMetrics, configuration: ServerConfiguration,
                logger: Logger = Logger(label: "chorus.server")) {
        self.scheduler = scheduler
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    /// Serves until a termination signal, then drains and returns.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        let handlers = OpenAIHandlers(model: scheduler.model, scheduler: scheduler, metrics: metrics,
                                      modelName: configuration.modelName)
        let router = Router(context: ChorusRequestContext.self)
        if let key = configuration.apiKey { router.add(middleware: BearerAuthMiddleware(key: key)) }
        router.get("/health") { _, _ in handlers.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: handlers.metrics.render())))
        }
        router.get("/v1/models") { _, _ in handlers.models() }
        router.post("/v1/chat/completions") { request, context in
            await handlers.generate(request, kind: .chat, isConnected: context.isConnected)
        }
        router.post("/v1/completions") { request, context in
            await handlers.generate(request, kind: .completion, isConnected: context.isConnected)
        }

        scheduler.start()
        let host = configuration.host
        let app = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [HangUpHandler()])),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "chorus"),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
            logger: logger)
        // Services shut down in reverse order: the drain first (running requests end), then the listener.
        let drain = DrainService(scheduler: scheduler, grace: configuration.shutdownGrace, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app, drain], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

/// 401 with OpenAI's error object unless the request carries the API key (`/health` is open).
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" { return try await next(request, context) }
        guard request.headers[.authorization] == "Bearer \(key)" else {
            return jsonResponse(APIError(status: 401, message: "Incorrect or missing API key: send 'Authorization: Bearer KEY'.",
                                         type: "invalid_request_error", code: "invalid_api_key").json, status: .unauthorized)
        }
        return try await next(request, context)
    }
}

/// Waits for the shutdown signal, then stops new requests, gives running ones `grace` to finish,
/// cancels the rest and waits for the engine loop to end.
struct DrainService: Service {
    let scheduler: BatchScheduler
    let grace: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down: no new requests; waiting up to \(grace) for running ones")
        scheduler.stopAccepting()
        if !(await scheduler.waitUntilIdle(timeout: grace)) { logger.info("cancelling the requests still running") }
        scheduler.stopAll()
        await scheduler.waitForLoopEnd(timeout: .seconds(30))
    }
}
