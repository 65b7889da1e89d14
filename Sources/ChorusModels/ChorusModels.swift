// ChorusModels: configs from GGUF metadata, shared blocks, one file per architecture, KV cache.
