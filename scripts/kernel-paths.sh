#!/usr/bin/env bash
# Runs the kernel tests that loop over int8 paths (ChorusKernelsTests.MatMulPathTests) once per x86
# path the CPU claims in /proc/cpuinfo, each forced with CHORUS_KERNEL_PATH: a claimed path the
# kernels do not take fails the run. A path the CPU lacks is named, with the flags it lacks.
# Expects a release build with tests (scripts/test.sh builds one first).
set -euo pipefail
cd "$(dirname "$0")/.."
FLAGS=(-c release -Xswiftc -enable-testing)

# The flags each path needs, as the C kernels' detect_path() checks them (cchorus.c).
paths=(avx2 avxvnni avx512vnni)
declare -A needs=(
    [avx2]="avx2 fma"
    [avxvnni]="avx2 fma avx_vnni"
    [avx512vnni]="avx2 fma avx_vnni avx512f avx512bw avx512vl avx512_vnni"
)
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "

failed=()
for path in "${paths[@]}"; do
    lacks=()
    for flag in ${needs[$path]}; do [[ "$cpu_flags" == *" $flag "* ]] || lacks+=("$flag"); done
    if [ ${#lacks[@]} -gt 0 ]; then
        echo "== kernel path $path: skipped, absent from this CPU (no ${lacks[*]} in /proc/cpuinfo)" >&2
        continue
    fi
    echo "== kernel path $path (CHORUS_KERNEL_PATH=$path)" >&2
    CHORUS_KERNEL_PATH=$path swift test "${FLAGS[@]}" --skip-build --filter 'ChorusKernelsTests.MatMulPathTests' \
        || failed+=("$path")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "== kernel paths failed: ${failed[*]}" >&2
    exit 1
fi
