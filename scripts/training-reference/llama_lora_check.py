#!/usr/bin/env python3
"""Checks that llama.cpp loads a LoRA adapter written by Chorus and that it changes the model's output,
and records the evidence in Tests/Fixtures/training/llama-lora-check.json for ChorusTrainingTests
(LoRAAdapterTests.llamaCppLoadedTheseBytes re-creates the adapter and compares its SHA-256).

usage:
  swift build -c release -Xswiftc -enable-testing --build-tests      # builds ChorusTrainingCheck
  python3 scripts/training-reference/llama_lora_check.py \
      --model ~/.cache/chorus/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --llama-bin /work/llama/llama_cpp_python-0.3.36/vendor/llama.cpp/build/bin \
      --check-bin .build/release/ChorusTrainingCheck \
      --out Tests/Fixtures/training/llama-lora-check.json

It writes the adapter (rank 8, alpha 16, every target, seed 17, B drawn with bound 0.05 so the adapter is not
the identity) with `ChorusTrainingCheck write-adapter`, then runs llama-perplexity on text.txt beside this
script (context 128, 2 threads) without and with `--lora`, and keeps both perplexities and the number of
tensors llama.cpp reports loading from the adapter.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import tempfile

SEED, B_SCALE, RANK, ALPHA, TARGETS = 17, 0.05, 8, 16.0, "q,k,v,o,gate,up,down"


def perplexity(binary, model, text, lora=None):
    cmd = [os.path.join(binary, "llama-perplexity"), "-m", model, "-f", text, "-c", "128", "-t", "2", "-b", "128"]
    if lora:
        cmd += ["--lora", lora, "-v"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    log = run.stdout + run.stderr
    if run.returncode != 0:
        raise SystemExit(f"llama-perplexity failed ({run.returncode}):\n{log[-3000:]}")
    ppl = re.search(r"Final estimate: PPL = ([0-9.]+)", log)
    loaded = len(re.findall(r"lora for '[^']+' ->", log)) * 2  # one line per A/B pair at verbose level
    return float(ppl.group(1)), loaded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--check-bin", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    text = os.path.join(os.path.dirname(os.path.abspath(__file__)), "text.txt")
    with tempfile.TemporaryDirectory() as tmp:
        adapter = os.path.join(tmp, "chorus-adapter.gguf")
        subprocess.run([args.check_bin, "write-adapter", args.model, adapter, str(SEED), str(B_SCALE), str(RANK), str(ALPHA), TARGETS],
                       check=True, timeout=300)
        digest = hashlib.sha256(open(adapter, "rb").read()).hexdigest()
        base, _ = perplexity(args.llama_bin, args.model, text)
        lora, loaded = perplexity(args.llama_bin, args.model, text, adapter)
    if loaded == 0:
        raise SystemExit("llama.cpp did not report loading the adapter")
    result = {
        "source": "scripts/training-reference/llama_lora_check.py (llama-perplexity, context 128, 2 threads, text.txt)",
        "model": os.path.basename(args.model),
        "seed": SEED, "b_scale": B_SCALE, "rank": RANK, "alpha": ALPHA, "targets": TARGETS,
        "adapter_sha256": digest, "llama_loaded_tensors": loaded,
        "perplexity_base": base, "perplexity_lora": lora,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
