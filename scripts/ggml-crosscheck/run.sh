#!/bin/sh
# Bit-for-bit check of Chorus's C int8 kernels against llama.cpp's own AVX2 dot products.
#
# Fetches the llama-cpp-python source distribution from PyPI (it vendors llama.cpp), compiles
# ggml's quantisation files (ggml-quants.c, ggml-cpu/quants.c, ggml-cpu/arch/x86/quants.c) with
# -mavx2 -mfma -mf16c as llama.cpp's AVX2 build does, compiles Sources/CChorusKernels as SwiftPM
# does, and runs crosscheck.c. Nothing from llama.cpp is kept in this repository.
#
# Usage: scripts/ggml-crosscheck/run.sh [llama-cpp-python version]   (needs gcc, clang, pip; x86-64)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=${1:-0.3.36}
work=${TMPDIR:-/tmp}/chorus-ggml-crosscheck-$version
mkdir -p "$work"
if [ ! -d "$work/src" ]; then
    python3 -m pip install -q scikit-build-core
    python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$work" "llama-cpp-python==$version"
    mkdir -p "$work/src" && tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work/src" --strip-components=1
fi
ggml="$work/src/vendor/llama.cpp/ggml"
kernels="$repo/Sources/CChorusKernels"
cd "$work"
for f in src/ggml-quants.c src/ggml-cpu/quants.c src/ggml-cpu/arch/x86/quants.c; do
    gcc -std=gnu11 -O2 -mavx2 -mfma -mf16c -D_GNU_SOURCE -I"$ggml/include" -I"$ggml/src" -I"$ggml/src/ggml-cpu" \
        -c "$ggml/$f" -o "ggml_$(echo "$f" | tr / _).o"
done
blocks="$repo/Sources/CQuantBlocks"
for f in "$kernels"/*.c; do clang -O3 -ffp-contract=off -I"$blocks/include" -I"$kernels/include" -c "$f" -o "chorus_$(basename "$f").o"; done
clang -O2 -mf16c -I"$blocks/include" -I"$kernels/include" -c "$here/crosscheck.c" -o crosscheck.o
clang -O2 -mf16c -c "$here/ggml_stubs.c" -o ggml_stubs.o
gcc -o crosscheck crosscheck.o chorus_*.o ggml_*.o -lm
./crosscheck
