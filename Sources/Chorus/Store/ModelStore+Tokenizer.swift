import ChorusGGUF
import ChorusTokenizers

extension ModelStore {
    /// The tokenizer of a catalog id (fetched first if not cached) or a `.gguf` path, read from the file's
    /// metadata alone: any GGUF whose tokenizer Chorus supports, whatever its architecture, with or
    /// without weights (llama.cpp's vocabulary-only files included). No model is built.
    public func loadTokenizer(_ reference: String) throws -> any Tokenizer {
        try TokenizerLoader.load(from: GGUFFile(path: resolve(reference)).metadata)
    }
}
