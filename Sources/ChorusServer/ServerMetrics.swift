import Chorus
import Foundation

/// Counters for `/metrics`, updated by the scheduler (as its observer) and the HTTP handlers (lock-protected).
public final class ServerMetrics: SchedulerObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]
    private var promptTokens = 0
    private var generatedTokens = 0
    private var steps = 0
    private var stepRows = 0
    private var lastBatchSize = 0
    private var queueLength = 0
    private var activeSequences = 0
    private var recentRate = 0.0
    private var rejected = 0
    private var reusedPromptTokens = 0
    private var draftedTokens = 0
    private var acceptedTokens = 0
    private var verifications = 0

    public init() {}

    func request(_ endpoint: String, status: Int) {
        lock.withLock { requests["\(endpoint)|\(status)", default: 0] += 1 }
    }

    public func reusedPrefix(tokens: Int) { lock.withLock { reusedPromptTokens += tokens } }

    public func speculated(drafted: Int, accepted: Int, verifications: Int) {
        lock.withLock {
            draftedTokens += drafted
            acceptedTokens += accepted
            self.verifications += verifications
        }
    }

    public func rejectedBusy() { lock.withLock { rejected += 1 } }

    public func step(rows: Int, sequences: Int, generated: Int, prompt: Int, seconds: Double, queued: Int, active: Int) {
        lock.withLock {
            steps += 1
            stepRows += rows
            lastBatchSize = sequences
            generatedTokens += generated
            promptTokens += prompt
            queueLength = queued
            activeSequences = active
            if seconds > 0 && generated > 0 {
                let rate = Double(generated) / seconds
                recentRate = recentRate == 0 ? rate : 0.8 * recentRate + 0.2 * rate
            }
        }
    }

    public func idle(queued: Int) {
        lock.withLock {
            queueLength = queued
            activeSequences = 0
            lastBatchSize = 0
            recentRate = 0
        }
    }

    /// Prometheus text exposition format.
    public func render() -> String {
        lock.withLock {
            var out = ""
            func metric(_ name: String, _ type: String, _ help: String, _ lines: [(String, String)]) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                for (labels, value) in lines { out += "\(name)\(labels) \(value)\n" }
            }
            metric("chorus_requests_total", "counter", "HTTP requests by endpoint and status.",
                   requests.sorted { $0.key < $1.key }.map { key, value in
                       let parts = key.split(separator: "|")
                       return ("{endpoint=\"\(parts[0])\",status=\"\(parts[1])\"}", "\(value)")
                   })
            metric("chorus_requests_rejected_busy_total", "counter", "Requests refused with 429 (slots and queue full).", [("", "\(rejected)")])
            metric("chorus_prompt_tokens_total", "counter", "Prompt tokens evaluated.", [("", "\(promptTokens)")])
            metric("chorus_prompt_tokens_reused_total", "counter", "Prompt tokens whose KV entries were reused from a previous sequence.",
                   [("", "\(reusedPromptTokens)")])
            metric("chorus_generated_tokens_total", "counter", "Tokens generated.", [("", "\(generatedTokens)")])
            metric("chorus_speculative_drafted_tokens_total", "counter", "Tokens drafted (prompt lookup or draft model).", [("", "\(draftedTokens)")])
            metric("chorus_speculative_accepted_tokens_total", "counter", "Drafted tokens accepted by verification.", [("", "\(acceptedTokens)")])
            metric("chorus_speculative_verifications_total", "counter", "Draft trees (or chains) verified, one per speculating sequence and step.",
                   [("", "\(verifications)")])
            metric("chorus_speculative_acceptance_rate", "gauge", "Accepted / drafted tokens since start.",
                   [("", String(format: "%.4f", draftedTokens > 0 ? Double(acceptedTokens) / Double(draftedTokens) : 0))])
            metric("chorus_batch_steps_total", "counter", "Batched forward passes.", [("", "\(steps)")])
            metric("chorus_batch_rows_total", "counter", "Rows evaluated by batched forward passes.", [("", "\(stepRows)")])
            metric("chorus_batch_size", "gauge", "Sequences in the latest forward pass.", [("", "\(lastBatchSize)")])
            metric("chorus_active_sequences", "gauge", "Sequences holding a slot.", [("", "\(activeSequences)")])
            metric("chorus_queue_length", "gauge", "Sequences waiting for a slot.", [("", "\(queueLength)")])
            metric("chorus_tokens_per_second", "gauge", "Recent aggregate generation speed (moving average over steps).",
                   [("", String(format: "%.3f", recentRate))])
            return out
        }
    }
}
