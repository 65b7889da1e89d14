#!/usr/bin/env python3
"""llama.cpp's own tokenizations for Tests/ChorusTokenizersTests/LlamaVocabSuiteTests.swift.

usage: dump.py VOCAB_DIR OUT_DIR
  VOCAB_DIR: the suite fetched by fetch.py (ggml-vocab-*.gguf, with .gguf.inp/.gguf.out for most)
  OUT_DIR:   Tests/Fixtures/llama-vocab; writes <vocabulary>.json for every vocabulary:
    {"vocabulary", "llama_cpp", "input", "cases": [{"ids": [...], "text": "..."}], "extra": [...]}
  extra: the same for the cases of OUT_DIR/extra.inp (ours: scripts beyond the suite's, fullwidth forms,
  non-ASCII whitespace, combining marks, control characters, special-token texts), for every vocabulary
  ids:  llama_tokenize(case, add_special=False, parse_special=False), as tests/test-tokenizer-0.cpp
  text: llama_detokenize(ids, remove_special=True, unparse_special=True), what `chorus detokenize` prints
Vocabularies without cases of their own (aquila, baichuan, gpt-neox, nomic-bert-moe) are run on the
cases of ggml-vocab-llama-spm.gguf.inp. For vocabularies with a .out file the ids must equal it.

Needs python llama_cpp of the same version as the suite (pip install llama-cpp-python==0.3.36, or
PYTHONPATH=<sdist> LLAMA_CPP_LIB_PATH=<sdist>/vendor/llama.cpp/build/bin for a local build of it).
"""
import ctypes, glob, json, os, sys
import llama_cpp

SEPARATOR = "\n__ggml_vocab_test__\n"
COMMON_INPUT = "ggml-vocab-llama-spm.gguf.inp"


def read_cases(path):
    """The cases of a .inp file, split as test-tokenizer-0.cpp's read_tests does."""
    raw = open(path, "rb").read().decode("utf-8")
    cases, pos = [], 0
    while pos < len(raw):
        end = raw.find(SEPARATOR, pos)
        if end < 0:
            cases.append(raw[pos:])
            break
        cases.append(raw[pos:end])
        pos = end + len(SEPARATOR)
    return cases


def tokenize(vocab, text):
    data = text.encode("utf-8")
    size = len(data) + 16
    while True:
        buffer = (llama_cpp.llama_token * size)()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buffer, size, False, False)
        if n >= 0:
            return list(buffer[:n])
        size = -n


def detokenize(vocab, ids):
    array = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab, array, len(ids), buffer, size, True, True)
        if n >= 0:
            return buffer.raw[:n]
        size = -n


def lines(cases):
    return ",\n".join(json.dumps(case, ensure_ascii=False) for case in cases)


def main(vocab_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    llama_cpp.llama_backend_init()
    mismatches = 0
    for path in sorted(glob.glob(os.path.join(vocab_dir, "ggml-vocab-*.gguf"))):
        name = os.path.basename(path)
        own = os.path.exists(path + ".inp")
        cases = read_cases(path + ".inp" if own else os.path.join(vocab_dir, COMMON_INPUT))
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not model:
            sys.exit(f"{name}: llama.cpp cannot load it")
        vocab = llama_cpp.llama_model_get_vocab(model)
        expected = open(path + ".out").read().split("\n") if own else None
        out = []
        for i, case in enumerate(cases):
            ids = tokenize(vocab, case)
            if expected is not None and ids != [int(t) for t in expected[i].split()]:
                mismatches += 1
                print(f"{name} case {i}: llama.cpp gives {ids}, the .out file {expected[i]}", file=sys.stderr)
            out.append({"ids": ids, "text": detokenize(vocab, ids).decode("utf-8", errors="replace")})
        extra = [{"ids": ids, "text": detokenize(vocab, ids).decode("utf-8", errors="replace")}
                 for ids in (tokenize(vocab, case) for case in read_cases(os.path.join(out_dir, "extra.inp")))]
        llama_cpp.llama_model_free(model)
        head = json.dumps({"vocabulary": name, "llama_cpp": "llama-cpp-python " + llama_cpp.__version__,
                           "input": name + ".inp" if own else COMMON_INPUT}, ensure_ascii=False)[:-1]
        with open(os.path.join(out_dir, name.removesuffix(".gguf") + ".json"), "w") as f:
            f.write(f'{head}, "cases": [\n{lines(out)}\n], "extra": [\n{lines(extra)}\n]}}\n')
        print(f"{name}: {len(out)} cases", file=sys.stderr)
    if mismatches:
        sys.exit(f"{mismatches} cases differ from the suite's .out files")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
