#!/usr/bin/env bash
# Side-by-side figures for the README's distributed section: 1 process x 2 threads against 2 MPI ranks x 1
# thread (pipeline, micro-batched; tensor-parallel), interleaved R times. Usage:
#   scripts/bench-distributed.sh MODEL TEXT_FILE [R]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-smollm2-135m}; TEXT=${2:?text file for perplexity}; R=${3:-3}
B=$(swift build -c release --show-bin-path)/chorus
MPI=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
CTX=256
for i in $(seq "$R"); do
    echo "== round $i  $(uptime)"
    echo "single-bench $("$B" bench -m "$MODEL" -t 2 -p 128 -n 32 -r 3 --json 2>/dev/null)"
    echo "pp-bench $("${MPI[@]}" "$B" bench -m "$MODEL" -t 1 -p 128 -n 32 -r 3 --json --pipeline-stages 2 --microbatches 4 2>/dev/null)"
    echo "tp-bench $("${MPI[@]}" "$B" bench -m "$MODEL" -t 1 -p 128 -n 32 -r 3 --json --tensor-parallel 2 2>/dev/null)"
    echo "single-ppl $("$B" perplexity -m "$MODEL" -t 2 -c $CTX -f "$TEXT" --json 2>/dev/null)"
    for k in 1 2 4 8; do
        echo "pp-ppl-k$k $("${MPI[@]}" "$B" perplexity -m "$MODEL" -t 1 -c $CTX -f "$TEXT" --json --pipeline-stages 2 --microbatches $k 2>/dev/null)"
    done
    echo "tp-ppl $("${MPI[@]}" "$B" perplexity -m "$MODEL" -t 1 -c $CTX -f "$TEXT" --json --tensor-parallel 2 2>/dev/null)"
done
