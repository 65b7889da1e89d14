#!/usr/bin/env python3
"""Skeleton-of-thought latency against plain generation on explanation prompts, run interleaved
(plain, then SoT, per prompt) with `chorus generate --json`. Prints one JSON line per run.

    scripts/sot-bench.py --chorus .build/release/chorus -m qwen2.5-coder-0.5b
"""

import argparse
import json
import subprocess
import time

PROMPTS = [
    "Explain how a hash table works.",
    "Explain why the sky is blue.",
    "Explain the difference between a process and a thread.",
]


def run(chorus, model, prompt, sot, max_tokens, threads):
    command = [chorus, "generate", "-m", model, "-t", str(threads), "--temperature", "0", "-n", str(max_tokens), "--json", prompt]
    command += ["--skeleton-of-thought"] if sot else ["--chat"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800).stdout
    seconds = time.perf_counter() - start
    result = json.loads(out)
    tokens = result.get("completion_tokens", len(result.get("ids", [])))
    return {"mode": "sot" if sot else "plain", "prompt": prompt, "seconds": round(seconds, 2), "tokens": tokens,
            "points": len(result.get("points", []))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chorus", default=".build/release/chorus")
    parser.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--plain-tokens", type=int, default=400, help="token cap for plain generation")
    parser.add_argument("--point-tokens", type=int, default=64, help="token cap per expanded point")
    args = parser.parse_args()
    for prompt in PROMPTS:
        print(json.dumps(run(args.chorus, args.model, prompt, False, args.plain_tokens, args.threads)), flush=True)
        print(json.dumps(run(args.chorus, args.model, prompt, True, args.point_tokens, args.threads)), flush=True)


if __name__ == "__main__":
    main()
