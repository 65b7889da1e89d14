#!/usr/bin/env bash
# Runs Chorus's whole test suite on a fresh machine: builds in release (the model tests need the
# speed), fetches the catalog models the tests use into $CHORUS_HOME (default ~/.cache/chorus;
# already-cached models are kept), then runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${CHORUS_TEST_MODELS:-"smollm2-135m gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b"}
FLAGS=(-c release -Xswiftc -enable-testing)

echo "== building (release, with tests)" >&2
swift build "${FLAGS[@]}" --build-tests
echo "== fetching models: $MODELS" >&2
for model in $MODELS; do
    "$(swift build "${FLAGS[@]}" --show-bin-path)/chorus" pull "$model" >/dev/null
done
echo "== running tests" >&2
swift test "${FLAGS[@]}" --skip-build "$@"
