#!/usr/bin/env bash
# Runs Chorus's whole test suite on a fresh machine: builds in release (the model tests need the
# speed), fetches the catalog models the tests use into $CHORUS_HOME (default ~/.cache/chorus;
# already-cached models are kept; the derived MoE models are built from smollm2-135m) and llama.cpp's
# tokenizer suite, then runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${CHORUS_TEST_MODELS:-"smollm2-135m gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b smollm2-135m-moe smollm2-135m-moe-split"}
FLAGS=(-c release -Xswiftc -enable-testing)

echo "== building (release, with tests)" >&2
swift build "${FLAGS[@]}" --build-tests
echo "== fetching models: $MODELS" >&2
for model in $MODELS; do
    "$(swift build "${FLAGS[@]}" --show-bin-path)/chorus" pull "$model" >/dev/null
done
# llama.cpp's tokenizer suite (vocabulary-only GGUFs and their cases, ~75 MB from the llama-cpp-python
# sdist), kept in $CHORUS_LLAMA_VOCAB (default $CHORUS_HOME/llama-vocab/<version>) between runs.
echo "== fetching llama.cpp's tokenizer suite" >&2
python3 scripts/llama-vocab/fetch.py >/dev/null
echo "== running tests" >&2
swift test "${FLAGS[@]}" --skip-build "$@"
# The kernel tests once more per int8 path the CPU claims, each path forced (the run above takes the best).
# Skipped when arguments select particular Swift tests.
if [ $# -eq 0 ]; then
    echo "== kernel paths, one forced run each" >&2
    ./scripts/kernel-paths.sh
fi
# End-to-end server tests: the real `chorus serve` on loopback, driven by the official openai client.
# Skipped when arguments select particular Swift tests.
if [ $# -eq 0 ]; then
    echo "== server tests (chorus serve + openai client)" >&2
    python3 -c "import openai, pytest" 2>/dev/null || python3 -m pip install -q openai pytest
    CHORUS_BIN="$(swift build "${FLAGS[@]}" --show-bin-path)/chorus" timeout 1200 python3 -m pytest -q Tests/server
fi
