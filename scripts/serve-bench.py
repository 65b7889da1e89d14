#!/usr/bin/env python3
"""Load generator for OpenAI-compatible servers (chorus serve, llama-server): C concurrent clients
each stream R greedy /v1/completions requests with their own prompt; reports aggregate generated
tokens/s (all tokens / wall time) and time to first token. Loopback only; bounded by -n and -r.

    scripts/serve-bench.py --url http://127.0.0.1:8080 --clients 1,4,16 --max-tokens 64
"""

import argparse
import concurrent.futures
import http.client
import json
import statistics
import time
import urllib.parse

TOPICS = ["the sky", "prime numbers", "honey bees", "recursion", "cats", "photosynthesis", "compasses", "gravity",
          "the ocean", "black holes", "vaccines", "inflation", "autumn leaves", "neural networks", "airplanes", "DNA",
          "dreams", "atoms", "rain", "volcanoes", "stars", "electricity", "magnets", "rainbows", "ice", "hash tables",
          "tides", "eclipses", "onions", "compilers", "the heart", "sound"]


def one_request(url, prompt, max_tokens, timeout):
    parts = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True, "ignore_eos": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    connection.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]}")
    first = None
    chunks = 0
    usage = None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            break
        event = json.loads(data)
        if event.get("usage"):
            usage = event["usage"]["completion_tokens"]
        for choice in event.get("choices") or []:
            if choice.get("text"):
                chunks += 1
                if first is None:
                    first = time.perf_counter()
    end = time.perf_counter()
    connection.close()
    return {"tokens": usage if usage is not None else chunks, "ttft": (first or end) - start, "seconds": end - start}


def run(url, clients, requests_per_client, max_tokens, timeout):
    def client(index):
        return [one_request(url, f"Write a long, detailed essay about {TOPICS[(index * requests_per_client + r) % len(TOPICS)]}.\n\n",
                            max_tokens, timeout) for r in range(requests_per_client)]

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        results = [r for rs in pool.map(client, range(clients)) for r in rs]
    wall = time.perf_counter() - start
    tokens = sum(r["tokens"] for r in results)
    ttfts = [r["ttft"] for r in results]
    return {"clients": clients, "requests": len(results), "tokens": tokens, "seconds": round(wall, 3),
            "aggregate_tokens_per_second": round(tokens / wall, 2),
            "ttft_mean_ms": round(1000 * statistics.mean(ttfts), 1), "ttft_p50_ms": round(1000 * statistics.median(ttfts), 1),
            "ttft_max_ms": round(1000 * max(ttfts), 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels")
    parser.add_argument("-r", "--requests-per-client", type=int, default=2)
    parser.add_argument("-n", "--max-tokens", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    one_request(args.url, "Warm up.", 4, args.timeout)
    for c in [int(x) for x in args.clients.split(",")]:
        result = run(args.url, c, args.requests_per_client, args.max_tokens, args.timeout)
        result["label"] = args.label
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
