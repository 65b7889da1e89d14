/// The word splitter llama.cpp runs before BPE, chosen by `tokenizer.ggml.pre`.
///
/// llama.cpp (`llm_tokenizer_bpe`) keeps a list of regexes per pre-tokenizer type and applies them one
/// after another, each splitting the pieces the previous one produced. We keep that shape: a list of
/// stages, each a hand-written scanner equivalent to one of those regexes.
struct PreTokenizer: Sendable {
    enum Stage: Sendable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
        case gpt2
        /// The llama3 regex with `\p{N}{1,maxDigits}` (3: llama3, 1: qwen2); with `marks`, letter runs
        /// take combining marks too (`[\p{L}\p{M}]+`, qwen35).
        case llama3(maxDigits: Int, marks: Bool)
        /// A single-class regex `[class]{minimum,maximum}`.
        case isolate(IsolatingSplitter.CharacterClass, minimum: Int, maximum: Int)
        /// `\s?[class]+`
        case prefixedRun(IsolatingSplitter.CharacterClass)
        /// `\s+$`
        case trailingWhitespace
        /// `[^\n]+|[\n]+`
        case newlineRuns
    }

    /// Families of `tokenizer.ggml.pre` values that share one regex list.
    enum Family: String, Sendable {
        case `default`, gpt2, llama3, qwen2, qwen35, smollm, falcon, deepSeekLLM, deepSeekCoder, gemma4
    }

    let family: Family
    let stages: [Stage]

    init(family: Family) {
        self.family = family
        switch family {
        case .default:
            stages = [
                .isolate(.punctuationOrOperator, minimum: 1, maximum: .max), .gpt2,
                .isolate(.number, minimum: 1, maximum: .max), .isolate(.asciiDigit, minimum: 3, maximum: 3),
            ]
        case .gpt2: stages = [.gpt2]
        case .llama3: stages = [.llama3(maxDigits: 3, marks: false)]
        case .qwen2: stages = [.llama3(maxDigits: 1, marks: false)]
        case .qwen35: stages = [.llama3(maxDigits: 1, marks: true)]
        case .smollm: stages = [.isolate(.number, minimum: 1, maximum: 1), .gpt2]
        case .falcon:
            stages = [.isolate(.punctuationOrSymbol, minimum: 1, maximum: .max), .gpt2, .isolate(.asciiDigit, minimum: 3, maximum: 3)]
        case .deepSeekLLM:
            stages = [
                .isolate(.lineBreak, minimum: 1, maximum: 1), .prefixedRun(.literal(.deepSeekLetters)),
                .prefixedRun(.literal(.deepSeekPunctuation)), .trailingWhitespace,
                .isolate(.literal(.cjkAndHangul), minimum: 1, maximum: .max), .isolate(.number, minimum: 1, maximum: .max),
            ]
        case .deepSeekCoder:
            stages = [
                .isolate(.lineBreak, minimum: 1, maximum: 1), .prefixedRun(.letter), .prefixedRun(.punctuation),
                .isolate(.literal(.cjkAndHangul), minimum: 1, maximum: .max), .isolate(.number, minimum: 1, maximum: 1),
            ]
        case .gemma4: stages = [.newlineRuns]
        }
    }

    /// Splits `text` into word ranges (codepoint indices), in order, covering all of it.
    func split(_ text: PreTokenizerText) -> [Range<Int>] {
        var fragments: [Range<Int>] = text.count > 0 ? [0 ..< text.count] : []
        var collector = PieceCollector()
        for stage in stages {
            for fragment in fragments {
                switch stage {
                case .gpt2:
                    GPT2Scanner.split(text, fragment, into: &collector)
                case .llama3(let maxDigits, let marks):
                    Llama3Scanner.split(text, fragment, maxDigits: maxDigits, marks: marks, into: &collector)
                case .isolate(let characterClass, let minimum, let maximum):
                    IsolatingSplitter.split(text, fragment, characterClass, minimum: minimum, maximum: maximum, into: &collector)
                case .prefixedRun(let characterClass):
                    PrefixedRunSplitter.split(text, fragment, characterClass, into: &collector)
                case .trailingWhitespace:
                    PrefixedRunSplitter.splitTrailingWhitespace(text, fragment, into: &collector)
                case .newlineRuns:
                    PrefixedRunSplitter.splitNewlineRuns(text, fragment, into: &collector)
                }
            }
            fragments = collector.takePieces()
        }
        return fragments
    }
}

/// What a `tokenizer.ggml.pre` value means to llama.cpp besides its regexes (`llama_vocab::impl::load`).
struct PreTokenizerConfiguration: Sendable {
    var family: PreTokenizer.Family
    /// Detokenizer's `clean_up_tokenization_spaces` (" ." -> "." and friends).
    var cleanSpaces = true
    /// Emit a whole word as one token when the vocabulary has it, before any merge (llama3).
    var ignoreMerges = false
    /// Default for add_bos before `tokenizer.ggml.add_bos_token` overrides it.
    var addBOS = false
    /// Spaces are "▁" in the vocabulary and the merges run on raw UTF-8 rather than the GPT-2 byte
    /// alphabet (Gemma 4's SentencePiece-style BPE).
    var sentencePieceStyle = false

    /// The llama.cpp settings for `name`; nil when llama.cpp would refuse (or Chorus lacks the regexes).
    init?(name: String?) {
        guard let name, !name.isEmpty else {
            family = .default  // llama.cpp warns "missing pre-tokenizer type, using: 'default'"
            return
        }
        switch name {
        case "default":
            family = .default
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            family = .llama3; ignoreMerges = true; addBOS = true
        case "dbrx", "smaug-bpe":
            family = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2":
            family = .qwen2; cleanSpaces = false
        case "stablelm2", "megrez":
            family = .qwen2
        case "qwen35":
            family = .qwen35; cleanSpaces = false
        case "smollm", "command-r":
            family = .smollm; cleanSpaces = false
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            family = .smollm
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
            "modern-bert", "mpt", "olmo", "jais", "exaone4":
            family = .gpt2
        case "trillion", "granite-docling":
            family = .gpt2; cleanSpaces = false
        case "falcon":
            family = .falcon
        case "deepseek-llm":
            family = .deepSeekLLM; cleanSpaces = false
        case "deepseek-coder":
            family = .deepSeekCoder; cleanSpaces = false
        case "gemma4", "granite-embed-multi-311m":
            family = .gemma4; sentencePieceStyle = true
        default:
            return nil
        }
    }
}
