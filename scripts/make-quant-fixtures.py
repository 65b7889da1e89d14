#!/usr/bin/env python3
"""Write the quantisation fixtures the Swift kernel tests compare against.

For each block type, a few blocks of random bytes with sane half-float scales (ggml's quantisers
only ever write finite, modest scales) are expanded by the `gguf` package's numpy dequantisers,
an implementation independent of Chorus. The bytes (hex) and the expected floats go to
Tests/ChorusKernelsTests/Fixtures/quant-<type>.json. Q5_0/Q5_1 also get blocks produced by gguf's
own quantiser from random floats. Q8_K has no gguf (de)quantiser: its expected values are d * q
computed here with numpy in float32.

Also writes ggml-type-sizes.json: gguf's GGML_QUANT_SIZES table (block size, bytes per block).

Usage: python3 -m pip install gguf numpy && python3 scripts/make-quant-fixtures.py
The output is deterministic for a given seed and gguf version.
"""
import importlib.metadata
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ChorusKernelsTests", "Fixtures")

# Byte offsets of the f16 scales to overwrite with sane values, and the range of each.
SCALES = {
    T.Q4_0: [(0, -0.05, 0.05)],
    T.Q4_1: [(0, 0.0, 0.05), (2, -0.1, 0.1)],
    T.Q8_0: [(0, -0.05, 0.05)],
    T.Q5_0: [(0, -0.05, 0.05)],
    T.Q5_1: [(0, 0.0, 0.05), (2, -0.1, 0.1)],
    T.Q2_K: [(80, 0.0, 0.02), (82, 0.0, 0.02)],
    T.Q3_K: [(108, -0.02, 0.02)],
    T.Q4_K: [(0, 0.0, 0.02), (2, 0.0, 0.02)],
    T.Q5_K: [(0, 0.0, 0.02), (2, 0.0, 0.02)],
    T.Q6_K: [(208, -0.01, 0.01)],
}
BLOCKS = {T.Q4_0: 6, T.Q4_1: 6, T.Q8_0: 6, T.F16: 64, T.BF16: 64, T.Q5_0: 6, T.Q5_1: 6, T.Q2_K: 2, T.Q3_K: 2, T.Q4_K: 2, T.Q5_K: 2, T.Q6_K: 2, T.Q8_K: 2}


def random_blocks(rng, qtype, n):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n, type_size), dtype=np.uint8)
    for offset, lo, hi in SCALES.get(qtype, []):
        h = rng.uniform(lo, hi, size=n).astype(np.float16).view(np.uint8).reshape(n, 2)
        raw[:, offset:offset + 2] = h
    if qtype in (T.F16, T.BF16):  # finite values only: random normals in the format's own bits
        values = rng.normal(0, 2, size=n).astype(np.float32)
        if qtype == T.F16:
            return values.astype(np.float16).view(np.uint8).reshape(n, 2)
        return (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(n, 2)
    if qtype == T.Q8_K:
        raw[:, 0:4] = rng.uniform(1e-4, 2e-2, size=n).astype(np.float32).view(np.uint8).reshape(n, 4)
        raw[:, 4:260][raw[:, 4:260] == 0x80] = 0x81  # ggml's Q8_K quantiser never writes -128
    return raw


def expected(qtype, raw):
    if qtype == T.Q8_K:
        d = raw[:, 0:4].copy().view(np.float32)
        q = raw[:, 4:260].copy().view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    return dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)


def write(name, payload):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(payload, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    rng = np.random.default_rng(20240531)
    os.makedirs(OUT, exist_ok=True)
    for qtype, n in BLOCKS.items():
        raw = random_blocks(rng, qtype, n)
        if qtype in (T.Q5_0, T.Q5_1):  # two more blocks from gguf's own quantiser
            floats = rng.normal(0, 0.5, size=64).astype(np.float32)
            raw = np.concatenate([raw, quantize(floats, qtype).reshape(2, -1)])
        values = expected(qtype, raw)
        # float32 values as their bit patterns: exact, and JSON-number agnostic.
        write(f"quant-{qtype.name}.json", {
            "type": qtype.name,
            "ggmlType": int(qtype),
            "generator": f"gguf {importlib.metadata.version('gguf')}, numpy {np.__version__}",
            "blocks": len(raw),
            "bytes": raw.tobytes().hex(),
            "expectedBits": [int(v) for v in values.view(np.uint32)],
        })
    write("ggml-type-sizes.json", {
        "note": "gguf-py GGML_QUANT_SIZES: ggml type id -> [weights per block, bytes per block]",
        "sizes": {str(int(t)): list(v) for t, v in gguf.GGML_QUANT_SIZES.items()},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
