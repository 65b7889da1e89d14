#!/usr/bin/env python3
"""Float32 logit dumps from python llama_cpp for Tests/ChorusOracleTests/LlamaLogitsTests.swift.

usage: dump.py MODEL.gguf ORACLE.json OUTDIR
  OUTDIR/ref_greedy_<case>.f32: the prompt's last row, then 8 greedy single-token steps
  OUTDIR/ref_all_<case>.f32:    every prompt row (logits_all)
then: CHORUS_LLAMA_LOGITS=OUTDIR swift test -c release -Xswiftc -enable-testing --filter LlamaLogitsTests
(set GGML_CPU_TILED_MM=0 here to dump llama.cpp without its tiled K-quant matmul).
"""
import json, os, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama

model, oracle, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
cases = json.load(open(oracle))['greedy']
for logits_all in (False, True):
    llm = Llama(model_path=model, n_ctx=512, n_threads=2, logits_all=logits_all, flash_attn=True, verbose=False)
    nv = llm.n_vocab()
    last_row = lambda: np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(nv,)).astype(np.float32)
    for ci, case in enumerate(cases):
        llm.reset()
        ids = case['prompt_ids']
        llm.eval(ids)
        if logits_all:
            rows = [np.array(llm.scores[i], dtype=np.float32) for i in range(len(ids))]
        else:
            rows = [last_row()]
            for _ in range(8):
                llm.eval([int(np.argmax(rows[-1]))])
                rows.append(last_row())
        name = f'ref_{"all" if logits_all else "greedy"}_{ci}.f32'
        np.array(rows, dtype=np.float32).tofile(os.path.join(out, name))
        print(name, len(rows))
