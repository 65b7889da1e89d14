import Chorus
import ChorusTokenizers
import Foundation
import Hummingbird

/// The OpenAI endpoints: parse and validate a request, submit its sequences to the scheduler, answer
/// with one JSON object or a stream of server-sent events shaped as OpenAI sends them.
struct OpenAIHandlers: Sendable {
    let model: LanguageModel
    let scheduler: BatchScheduler
    let metrics: ServerMetrics
    let modelName: String
    let created = Int(Date().timeIntervalSince1970)

    enum Kind: Sendable {
        case chat, completion
        var endpoint: String { self == .chat ? "/v1/chat/completions" : "/v1/completions" }
    }

    // MARK: - endpoints

    func models() -> Response {
        jsonResponse(.object([
            ("object", .string("list")),
            ("data", .array([.object([
                ("id", .string(modelName)), ("object", .string("model")), ("created", .int(created)), ("owned_by", .string("chorus")),
            ])])),
        ]))
    }

    func health() -> Response {
        let (waiting, active) = scheduler.load
        return jsonResponse(.object([
            ("status", .string("ok")), ("slots", .int(scheduler.slotCount)), ("slots_busy", .int(active)), ("queued", .int(waiting)),
        ]))
    }

    func generate(_ request: Request, kind: Kind, isConnected: @escaping @Sendable () -> Bool = { true }) async -> Response {
        let response: Response
        do {
            response = try await handle(request, kind: kind, isConnected: isConnected)
        } catch let error as APIError {
            response = errorResponse(error)
        } catch {
            response = errorResponse(APIError(status: 500, message: "\(error)", type: "server_error"))
        }
        metrics.request(kind.endpoint, status: Int(response.status.code))
        return response
    }

    private func handle(_ request: Request, kind: Kind, isConnected: @escaping @Sendable () -> Bool) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 16 << 20)
        } catch {
            throw APIError(status: 413, message: "the request body exceeds 16 MiB", type: "invalid_request_error")
        }
        let data = Data(buffer.readableBytesView)
        let decoder = JSONDecoder()
        let fields: GenerationFields
        var prompts: [[Int]]
        var topLogprobs: Int?
        var lastUserMessage: String?
        do {
            fields = try decoder.decode(GenerationFields.self, from: data)
            switch kind {
            case .chat:
                let body = try decoder.decode(ChatCompletionBody.self, from: data)
                guard !body.messages.isEmpty else { throw APIError.invalid("'messages' must not be empty", param: "messages") }
                let messages = body.messages.map { ChatMessage(role: $0.role, content: $0.content?.text ?? "") }
                lastUserMessage = messages.last { $0.role == "user" }?.content
                let text: String
                do { text = try model.chatPrompt(messages) } catch { throw APIError.invalid("\(error)") }
                prompts = [model.tokenize(text, addSpecial: true, parseSpecial: true)]
                if body.logprobs == true { topLogprobs = body.top_logprobs ?? 0 }
                else if body.top_logprobs != nil { throw APIError.invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs") }
            case .completion:
                let body = try decoder.decode(CompletionBody.self, from: data)
                switch body.prompt {
                case .tokens(let ids):
                    let vocabulary = model.config.vocabularySize
                    guard ids.allSatisfy({ $0 >= 0 && $0 < vocabulary }) else {
                        throw APIError.invalid("prompt token ids must be in 0..<\(vocabulary)", param: "prompt")
                    }
                    prompts = [ids]
                default:
                    prompts = body.prompt.strings.map { model.tokenize($0, addSpecial: true, parseSpecial: true) }
                }
                if body.echo == true { throw APIError.invalid("'echo' is not supported", param: "echo") }
                topLogprobs = body.logprobs
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(decoding: error)
        }
        let plan = try GenerationPlan(fields: fields, prompts: prompts, topLogprobs: topLogprobs, context: model.contextLength,
                                      slots: scheduler.slotCount, modelName: modelName)
        if plan.skeletonOfThought {
            guard kind == .chat, let question = lastUserMessage else {
                throw APIError.invalid("skeleton_of_thought needs a chat request with a user message", param: "chorus.skeleton_of_thought")
            }
            return try await skeletonOfThought(question, plan: plan)
        }
        let streams: [AsyncStream<SequenceEvent>]
        do {
            streams = try scheduler.submit(plan.jobs)
        } catch SchedulerError.queueFull(let seconds) {
            var error = APIError(status: 429, message: SchedulerError.queueFull(retryAfterSeconds: seconds).description,
                                 type: "rate_limit_error", code: "server_busy")
            error.retryAfter = seconds
            throw error
        } catch {
            throw APIError(status: 503, message: "\(error)", type: "server_error", code: "shutting_down")
        }
        let id = (kind == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let promptTokens = plan.prompts.reduce(0) { $0 + $1.count }
        if plan.stream {
            return streamingResponse(streams, plan: plan, kind: kind, id: id, promptTokens: promptTokens, isConnected: isConnected)
        }
        // Watch the connection while the answer is produced: a client that hangs up cancels its sequences.
        let choices = try await withThrowingTaskGroup(of: [Choice]?.self) { group in
            group.addTask { try await collect(streams) }
            group.addTask {
                while isConnected() { try await Task.sleep(for: .milliseconds(100)) }
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        guard let choices else {
            throw APIError(status: 499, message: "the client closed the connection", type: "invalid_request_error")
        }
        return completeResponse(choices, plan: plan, kind: kind, id: id, promptTokens: promptTokens)
    }

    // MARK: - skeleton-of-thought

    /// The whole answer as one chat completion (streamed as one content chunk once assembled).
    private func skeletonOfThought(_ question: String, plan: GenerationPlan) async throws -> Response {
        var sot = SkeletonOfThought(scheduler: scheduler)
        sot.maxPointTokens = min(sot.maxPointTokens, plan.maxTokens)
        let answer: SkeletonOfThought.Answer
        do {
            answer = try await sot.answer(question, sampling: plan.sampling)
        } catch SchedulerError.shuttingDown {
            throw APIError(status: 503, message: "the server is shutting down", type: "server_error", code: "shutting_down")
        } catch let failure as SkeletonOfThought.Failure {
            throw APIError(status: 503, message: failure.description, type: "server_error", code: "shutting_down")
        }
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let usage = usage(prompt: answer.promptTokens, completion: answer.completionTokens)
        let extensions: JSON = .object([("skeleton_of_thought", .object([
            ("used", .bool(answer.usedSkeleton)), ("points", .array(answer.points.map(JSON.string))),
        ]))])
        guard plan.stream else {
            return jsonResponse(.object([
                ("id", .string(id)), ("object", .string("chat.completion")), ("created", .int(created)), ("model", .string(plan.model)),
                ("choices", .array([.object([
                    ("index", .int(0)), ("message", .object([("role", .string("assistant")), ("content", .string(answer.text))])),
                    ("logprobs", .null), ("finish_reason", .string(answer.finishReason.rawValue)),
                ])])),
                ("usage", usage), ("chorus", extensions),
            ]))
        }
        func chunk(_ delta: [(String, JSON)], _ finish: JSON) -> String {
            var fields: [(String, JSON)] = [
                ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", .string(plan.model)),
                ("choices", .array([.object([("index", .int(0)), ("delta", .object(delta)), ("logprobs", .null), ("finish_reason", finish)])])),
            ]
            if plan.includeUsage { fields.append(("usage", .null)) }
            return "data: " + JSON.object(fields).serialized + "\n\n"
        }
        var events = chunk([("role", .string("assistant")), ("content", .string(""))], .null)
        events += chunk([("content", .string(answer.text))], .null)
        events += chunk([], .string(answer.finishReason.rawValue))
        if plan.includeUsage {
            events += "data: " + JSON.object([
                ("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", .string(plan.model)),
                ("choices", .array([])), ("usage", usage),
            ]).serialized + "\n\n"
        }
        events += "data: [DONE]\n\n"
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(string: events)))
    }

    // MARK: - non-streaming

    private struct Choice {
        var text = ""
        var logprobs: [TokenLogprob] = []
        var reason: FinishReason = .length
        var completionTokens = 0
    }

    private func collect(_ streams: [AsyncStream<SequenceEvent>]) async throws -> [Choice] {
        var choices: [Choice] = []
        for stream in streams {
            var choice = Choice()
            for await event in stream {
                switch event {
                case .token(_, let text, let logprob):
                    choice.text += text
                    if let logprob { choice.logprobs.append(logprob) }
                case .finished(let reason, _, let completion, let trailing):
                    choice.text += trailing
                    choice.reason = reason
                    choice.completionTokens = completion
                }
            }
            if choice.reason == .cancelled || Task.isCancelled {
                throw APIError(status: 503, message: "the server stopped before the completion was finished", type: "server_error",
                               code: "shutting_down")
            }
            choices.append(choice)
        }
        return choices
    }

    private func completeResponse(_ choices: [Choice], plan: GenerationPlan, kind: Kind, id: String, promptTokens: Int) -> Response {
        let completionTokens = choices.reduce(0) { $0 + $1.completionTokens }
        let choiceObjects: [JSON] = choices.enumerated().map { index, choice in
            switch kind {
            case .chat:
                return .object([
                    ("index", .int(index)),
                    ("message", .object([("role", .string("assistant")), ("content", .string(choice.text))])),
                    ("logprobs", plan.topLogprobs == nil ? .null : .object([("content", .array(choice.logprobs.map(chatLogprob)))])),
                    ("finish_reason", .string(choice.reason.rawValue)),
                ])
            case .completion:
                return .object([
                    ("text", .string(choice.text)), ("index", .int(index)),
                    ("logprobs", plan.topLogprobs == nil ? .null : completionLogprobs(choice.logprobs, offset: 0)),
                    ("finish_reason", .string(choice.reason.rawValue)),
                ])
            }
        }
        return jsonResponse(.object([
            ("id", .string(id)), ("object", .string(kind == .chat ? "chat.completion" : "text_completion")),
            ("created", .int(Int(Date().timeIntervalSince1970))), ("model", .string(plan.model)),
            ("choices", .array(choiceObjects)),
            ("usage", usage(prompt: promptTokens, completion: completionTokens)),
        ]))
    }

    // MARK: - streaming

    private func streamingResponse(_ streams: [AsyncStream<SequenceEvent>], plan: GenerationPlan, kind: Kind, id: String,
                                   promptTokens: Int, isConnected: @escaping @Sendable () -> Bool) -> Response {
        let created = Int(Date().timeIntervalSince1970)
        let object = kind == .chat ? "chat.completion.chunk" : "text_completion"
        let model = plan.model
        let includeUsage = plan.includeUsage
        let wantLogprobs = plan.topLogprobs != nil
        let (merged, cancel) = Self.merge(streams)
        let handlers = self
        let body = ResponseBody { writer in
            // A client that hangs up (even while its request still waits in the queue) cancels it at once.
            let watchdog = Task {
                while isConnected() { try await Task.sleep(for: .milliseconds(100)) }
                cancel()
            }
            defer { watchdog.cancel() }
            func send(_ json: JSON) async throws {
                try await writer.write(ByteBuffer(string: "data: \(json.serialized)\n\n"))
            }
            func chunk(_ choices: [JSON]) -> JSON {
                var fields: [(String, JSON)] = [
                    ("id", .string(id)), ("object", .string(object)), ("created", .int(created)), ("model", .string(model)),
                    ("choices", .array(choices)),
                ]
                if includeUsage { fields.append(("usage", .null)) }
                return .object(fields)
            }
            func choice(_ index: Int, text: String?, logprobs: [TokenLogprob], finish: FinishReason?, role: Bool = false) -> JSON {
                let reason: JSON = finish.map { .string($0.rawValue) } ?? .null
                switch kind {
                case .chat:
                    var delta: [(String, JSON)] = []
                    if role { delta.append(("role", .string("assistant"))) }
                    if let text { delta.append(("content", .string(text))) }
                    let lp: JSON = wantLogprobs && !logprobs.isEmpty ? .object([("content", .array(logprobs.map(handlers.chatLogprob)))]) : .null
                    return .object([("index", .int(index)), ("delta", .object(delta)), ("logprobs", lp), ("finish_reason", reason)])
                case .completion:
                    let lp: JSON = wantLogprobs && !logprobs.isEmpty ? handlers.completionLogprobs(logprobs, offset: 0) : .null
                    return .object([("text", .string(text ?? "")), ("index", .int(index)), ("logprobs", lp), ("finish_reason", reason)])
                }
            }
            if kind == .chat {
                for index in streams.indices { try await send(chunk([choice(index, text: "", logprobs: [], finish: nil, role: true)])) }
            }
            var completionTokens = 0
            for await (index, event) in merged {
                switch event {
                case .token(_, let text, let logprob):
                    if text.isEmpty && logprob == nil { continue }
                    try await send(chunk([choice(index, text: text, logprobs: logprob.map { [$0] } ?? [], finish: nil)]))
                case .finished(let reason, _, let completion, let trailing):
                    completionTokens += completion
                    if reason == .cancelled {
                        try await send(APIError(status: 503, message: "the server stopped before the completion was finished",
                                                type: "server_error", code: "shutting_down").json)
                        continue
                    }
                    if !trailing.isEmpty { try await send(chunk([choice(index, text: trailing, logprobs: [], finish: nil)])) }
                    try await send(chunk([choice(index, text: kind == .chat ? nil : "", logprobs: [], finish: reason)]))
                }
            }
            if includeUsage {
                try await send(.object([
                    ("id", .string(id)), ("object", .string(object)), ("created", .int(created)), ("model", .string(model)),
                    ("choices", .array([])), ("usage", handlers.usage(prompt: promptTokens, completion: completionTokens)),
                ]))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// One stream of (choice index, event) from several; ending or dropping it, or calling `cancel`,
    /// cancels every source (their sequences leave the scheduler at its next step).
    static func merge(_ streams: [AsyncStream<SequenceEvent>]) -> (AsyncStream<(Int, SequenceEvent)>, cancel: @Sendable () -> Void) {
        let (merged, continuation) = AsyncStream<(Int, SequenceEvent)>.makeStream(bufferingPolicy: .unbounded)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, stream) in streams.enumerated() {
                    group.addTask {
                        for await event in stream { continuation.yield((index, event)) }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return (merged, { task.cancel() })
    }

    // MARK: - pieces

    func usage(prompt: Int, completion: Int) -> JSON {
        .object([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(completion)), ("total_tokens", .int(prompt + completion))])
    }

    private func piece(_ id: Int) -> (text: String, bytes: [UInt8]) {
        let bytes = model.tokenizer.pieceBytes(id, renderSpecial: false)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }

    /// Chat format: `{"token", "logprob", "bytes", "top_logprobs": [...]}`.
    func chatLogprob(_ lp: TokenLogprob) -> JSON {
        func entry(_ id: Int, _ logprob: Float) -> [(String, JSON)] {
            let (text, bytes) = piece(id)
            return [("token", .string(text)), ("logprob", .number(Double(logprob))), ("bytes", .array(bytes.map { .int(Int($0)) }))]
        }
        return .object(entry(lp.id, lp.logprob) + [("top_logprobs", .array(lp.top.map { .object(entry($0.id, $0.logprob)) }))])
    }

    /// Legacy completions format: parallel lists of tokens, their log-probabilities, the top
    /// alternatives as {token: logprob} and each token's character offset in the text.
    func completionLogprobs(_ lps: [TokenLogprob], offset: Int) -> JSON {
        var tokens: [JSON] = [], values: [JSON] = [], tops: [JSON] = [], offsets: [JSON] = []
        var position = offset
        for lp in lps {
            let text = piece(lp.id).text
            tokens.append(.string(text))
            values.append(.number(Double(lp.logprob)))
            tops.append(.object(lp.top.map { (piece($0.id).text, JSON.number(Double($0.logprob))) }))
            offsets.append(.int(position))
            position += text.count
        }
        return .object([("tokens", .array(tokens)), ("token_logprobs", .array(values)), ("top_logprobs", .array(tops)),
                        ("text_offset", .array(offsets))])
    }

    func errorResponse(_ error: APIError) -> Response {
        var response = jsonResponse(error.json, status: .init(code: error.status))
        if let seconds = error.retryAfter { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}

func jsonResponse(_ json: JSON, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json.serialized)))
}
