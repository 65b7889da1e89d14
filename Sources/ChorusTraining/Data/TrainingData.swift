import ChorusTokenizers
import Foundation

/// One training sequence: the model reads `inputs` and is scored on predicting `targets` (the inputs
/// shifted by one) at the positions where `lossMask` is set.
public struct TrainingSequence: Sendable, Equatable, Codable {
    public var inputs: [Int]
    public var targets: [Int]
    public var lossMask: [Bool]

    public init(inputs: [Int], targets: [Int], lossMask: [Bool]) {
        precondition(inputs.count == targets.count && targets.count == lossMask.count)
        self.inputs = inputs
        self.targets = targets
        self.lossMask = lossMask
    }

    /// Positions whose prediction counts in the loss.
    public var lossTokens: Int { lossMask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Turns a data file into training sequences:
///
/// - plain text (any file not ending in `.jsonl`): tokenised whole (with BOS when the model adds one) and
///   packed into windows of L + 1 tokens taken every L tokens, so each sequence reads L tokens and every
///   token after the first is a target exactly once; a last window shorter than L + 1 is dropped;
/// - chat JSONL (`.jsonl`): one conversation per line, `{"messages": [{"role": ..., "content": ...}, ...]}`,
///   rendered with the model's chat template (`ChatTemplate`), one sequence per conversation, the loss only on
///   the tokens of assistant messages (their content and the turn's end marker, e.g. `<|im_end|>`).
///
/// Errors are one line naming the file (and the line of a JSONL file): unreadable, empty, malformed,
/// no assistant turn, longer than --seq-len, or --seq-len beyond the model's context.
public enum TrainingData {
    public static func load(path: String, tokenizer: any Tokenizer, template: ChatTemplate, sequenceLength: Int, context: Int) throws -> [TrainingSequence] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.invalidData("cannot read training data '\(path)' (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TrainingError.invalidData("training data '\(path)' is not UTF-8 text") }
        if path.hasSuffix(".jsonl") {
            return try chat(text, tokenizer: tokenizer, template: template, sequenceLength: sequenceLength, context: context, source: path)
        }
        return try packText(text, tokenizer: tokenizer, sequenceLength: sequenceLength, context: context, source: path)
    }

    static func checkLength(_ sequenceLength: Int, context: Int) throws {
        guard sequenceLength >= 1 else { throw TrainingError.invalidOption("--seq-len must be at least 1 (got \(sequenceLength))") }
        guard sequenceLength <= context else {
            throw TrainingError.invalidOption("--seq-len \(sequenceLength) is longer than the model's context of \(context) tokens")
        }
    }

    /// Plain text packed into windows of `sequenceLength` + 1 tokens every `sequenceLength` tokens.
    public static func packText(_ text: String, tokenizer: any Tokenizer, sequenceLength: Int, context: Int, source: String) throws -> [TrainingSequence] {
        try checkLength(sequenceLength, context: context)
        guard text.contains(where: { !$0.isWhitespace }) else { throw TrainingError.invalidData("training data '\(source)' is empty") }
        let tokens = tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        guard tokens.count >= sequenceLength + 1 else {
            throw TrainingError.invalidData("training data '\(source)' has \(tokens.count) tokens, fewer than --seq-len \(sequenceLength) + 1: lower --seq-len or add text")
        }
        var out: [TrainingSequence] = []
        var start = 0
        while start + sequenceLength + 1 <= tokens.count {
            out.append(TrainingSequence(inputs: Array(tokens[start..<start + sequenceLength]),
                                        targets: Array(tokens[start + 1...start + sequenceLength]),
                                        lossMask: Array(repeating: true, count: sequenceLength)))
            start += sequenceLength
        }
        return out
    }

    /// One sequence per JSONL conversation, loss on the assistant turns.
    public static func chat(_ text: String, tokenizer: any Tokenizer, template: ChatTemplate, sequenceLength: Int, context: Int,
                            source: String) throws -> [TrainingSequence] {
        try checkLength(sequenceLength, context: context)
        var out: [TrainingSequence] = []
        for (offset, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard line.contains(where: { !$0.isWhitespace }) else { continue }
            let where_ = "\(source) line \(offset + 1)"
            let messages = try parseMessages(line, where: where_)
            let sequence = try conversation(messages, tokenizer: tokenizer, template: template, where: where_)
            guard sequence.inputs.count <= sequenceLength else {
                throw TrainingError.invalidData("\(where_): the conversation is \(sequence.inputs.count + 1) tokens, longer than --seq-len \(sequenceLength) + 1 (raise --seq-len or shorten it)")
            }
            out.append(sequence)
        }
        guard !out.isEmpty else { throw TrainingError.invalidData("training data '\(source)' is empty (no conversations)") }
        return out
    }

    static func parseMessages(_ line: Substring, where place: String) throws -> [ChatMessage] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
            throw TrainingError.invalidData("\(place): not valid JSON")
        }
        guard let dictionary = object as? [String: Any], let list = dictionary["messages"] as? [Any] else {
            throw TrainingError.invalidData("\(place): expected an object with a \"messages\" array")
        }
        guard !list.isEmpty else { throw TrainingError.invalidData("\(place): \"messages\" is empty") }
        return try list.enumerated().map { index, item in
            guard let message = item as? [String: Any], let role = message["role"] as? String, let content = message["content"] as? String else {
                throw TrainingError.invalidData("\(place): message \(index + 1) needs string \"role\" and \"content\"")
            }
            return ChatMessage(role: role, content: content)
        }
    }

    /// Tokens of the rendered conversation with the assistant spans marked. Spans come from rendering
    /// prefixes: an assistant message i spans from the end of messages[..<i] rendered with the generation
    /// prompt to the end of messages[...i] less its trailing newline.
    static func conversation(_ messages: [ChatMessage], tokenizer: any Tokenizer, template: ChatTemplate, where place: String) throws -> TrainingSequence {
        let full = template.render(messages, addGenerationPrompt: false)
        var spans: [Range<Int>] = []
        for (i, message) in messages.enumerated() where message.role == "assistant" {
            let head = template.render(Array(messages[..<i]), addGenerationPrompt: true)
            var turn = template.render(Array(messages[...i]), addGenerationPrompt: false)
            guard full.utf8.starts(with: turn.utf8), turn.utf8.starts(with: head.utf8) else {
                throw TrainingError.invalidData("\(place): the chat template does not render message \(i + 1) as a continuation of the ones before")
            }
            while turn.hasSuffix("\n") { turn.removeLast() }
            spans.append(head.utf8.count..<turn.utf8.count)
        }
        guard !spans.isEmpty else { throw TrainingError.invalidData("\(place): no assistant message, so there is nothing to learn") }
        var tokens = tokenizer.encode(full, addSpecial: true, parseSpecial: true)
        // Byte offset of each token in the rendered text (a BOS the tokenizer adds has none).
        var offsets: [Int] = [], position = 0
        for (index, token) in tokens.enumerated() {
            if index == 0, tokenizer.addsBOS, token == tokenizer.bosID {
                offsets.append(-1)
                continue
            }
            offsets.append(position)
            position += tokenizer.pieceBytes(token, renderSpecial: true).count
        }
        guard position == full.utf8.count else {
            throw TrainingError.invalidData("\(place): the tokens of the rendered conversation do not spell it back, so assistant tokens cannot be found")
        }
        guard tokens.count >= 2 else { throw TrainingError.invalidData("\(place): the conversation is a single token") }
        let inAssistant = offsets.map { offset in spans.contains { $0.contains(offset) } }
        let targets = Array(tokens.dropFirst())
        tokens.removeLast()
        return TrainingSequence(inputs: tokens, targets: targets, lossMask: Array(inAssistant.dropFirst()))
    }
}

/// The order in which training sequences are visited: a Fisher-Yates shuffle per epoch drawn from a
/// SplitMix64 generator seeded by `--seed` (not Swift's `shuffle`, whose algorithm may change), and the
/// position within it. Its state goes into checkpoints, so a resumed run visits the same sequences.
public struct DataOrder: Sendable, Equatable, Codable {
    public let count: Int
    public let shuffled: Bool
    /// Epochs started (1 after the first `next`).
    public private(set) var epoch: Int = 0
    /// Sequences of the current epoch already handed out.
    public private(set) var position: Int = 0
    /// The generator's state after drawing the current epoch's order.
    public private(set) var generator: SplitMix64
    private var order: [Int] = []

    public init(count: Int, seed: UInt64, shuffled: Bool = true) throws {
        guard count >= 1 else { throw TrainingError.invalidData("there are no training sequences") }
        self.count = count
        self.shuffled = shuffled
        generator = SplitMix64(seed: seed, stream: 0xDA7A)
    }

    /// The indices of the next `n` sequences, starting new epochs as needed.
    public mutating func next(_ n: Int) -> [Int] {
        var out: [Int] = []
        while out.count < n {
            if epoch == 0 || position == count { startEpoch() }
            out.append(order[position])
            position += 1
        }
        return out
    }

    private mutating func startEpoch() {
        order = Array(0..<count)
        if shuffled {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(generator.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        epoch += 1
        position = 0
    }
}

/// One optimiser step's data: `--batch` sequences from the data order, cut into `--microbatches` equal
/// micro-batches in order, and the loss scale that makes the accumulated gradient that of the step's mean
/// token loss (1 / loss tokens of the whole step).
public struct StepBatch: Sendable, Equatable {
    public var microbatches: [[TrainingSequence]]
    public var lossScale: Float
    public var lossTokens: Int

    /// Draws the next step's sequences from `order`.
    public static func next(from sequences: [TrainingSequence], order: inout DataOrder, batch: Int, microbatches: Int) throws -> StepBatch {
        guard batch >= 1, microbatches >= 1 else { throw TrainingError.invalidOption("--batch and --microbatches must be at least 1") }
        guard batch % microbatches == 0 else {
            throw TrainingError.invalidOption("--batch \(batch) is not a multiple of --microbatches \(microbatches) (each micro-batch takes the same number of sequences)")
        }
        guard order.count == sequences.count else { throw TrainingError.invalidData("the data order is for \(order.count) sequences, the data has \(sequences.count)") }
        let picked = order.next(batch).map { sequences[$0] }
        let per = batch / microbatches
        let tokens = picked.reduce(0) { $0 + $1.lossTokens }
        guard tokens > 0 else { throw TrainingError.invalidData("a step's \(batch) sequences have no loss tokens") }
        return StepBatch(microbatches: (0..<microbatches).map { Array(picked[$0 * per..<($0 + 1) * per]) },
                         lossScale: 1 / Float(tokens), lossTokens: tokens)
    }
}
