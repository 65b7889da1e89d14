#!/usr/bin/env python3
"""llama.cpp's outputs on the derived mixture-of-experts models, for Tests/Fixtures/moe/.

usage: oracle.py LLAMA_BIN ORACLE.json TEXT OUTDIR ID=MODEL.gguf [ID=MODEL.gguf ...]

  LLAMA_BIN   folder with an installed llama.cpp's llama-server and llama-perplexity
  ORACLE.json the dense model's oracle (Tests/Fixtures/oracle/smollm2-135m.json): its greedy prompts are reused
  TEXT        the reference text for perplexity (Tests/Fixtures/oracle/texts/gpl-3.txt)
  OUTDIR      where OUTDIR/<ID>.json is written for each model

For each model, as the dense oracle was made: llama-server on 127.0.0.1 (2 threads) gives /tokenize ids
and a temperature-0 /completion of up to 16 tokens with n_probs 5 for each prompt; llama-perplexity
-c 128 -b 128 gives the perplexity of TEXT. Each fixture records the model file's size and SHA-256, so a
test can tie it to the file `chorus pull` builds. Run it on the dense model too (smollm2-135m=...): the
dense figures from the same llama.cpp build are the baseline the derived models are compared with.

example (from the repository root, after `chorus pull smollm2-135m-moe smollm2-135m-moe-split`):
  M=~/.cache/chorus/models; S=Tests/Fixtures/oracle
  scripts/llama-moe/oracle.py /path/to/llama.cpp/build/bin $S/smollm2-135m.json $S/texts/gpl-3.txt Tests/Fixtures/moe \
      smollm2-135m=$M/SmolLM2-135M-Instruct.Q4_1.gguf \
      smollm2-135m-moe=$M/SmolLM2-135M-Instruct.Q4_1.moe-upcycled-8x2.gguf \
      smollm2-135m-moe-split=$M/SmolLM2-135M-Instruct.Q4_1.moe-split-8x192.gguf
"""
import hashlib, json, os, re, socket, subprocess, sys, time, urllib.request

STEPS = 16
CONTEXT = 128


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 22), b''):
            h.update(chunk)
    return h.hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def post(port, path, body):
    request = urllib.request.Request(f'http://127.0.0.1:{port}{path}', data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


def serve(bin_dir, model):
    port = free_port()
    process = subprocess.Popen([os.path.join(bin_dir, 'llama-server'), '-m', model, '--host', '127.0.0.1', '--port', str(port),
                                '-t', '2', '-c', '1024', '-np', '1', '--no-webui'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f'llama-server failed on {model}: {process.stderr.read()[-2000:]}')
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=5) as r:
                if r.status == 200:
                    return process, port
        except Exception:
            time.sleep(0.5)
    process.kill()
    sys.exit(f'llama-server did not come up for {model}')


def greedy(port, prompt):
    ids = post(port, '/tokenize', {'content': prompt, 'add_special': True, 'parse_special': True})['tokens']
    result = post(port, '/completion', {'prompt': ids, 'n_predict': STEPS, 'temperature': 0, 'top_k': 1, 'n_probs': 5,
                                        'cache_prompt': False, 'seed': 0})
    steps = []
    for p in result['completion_probabilities']:
        top = [[t['id'], t['logprob']] for t in p['top_logprobs']]
        steps.append({'id': p['id'], 'logprob': p['logprob'], 'top': top})
    return {'prompt': prompt, 'prompt_ids': ids, 'greedy_ids': [s['id'] for s in steps], 'text': result['content'], 'steps': steps}


def perplexity(bin_dir, model, text):
    out = subprocess.run([os.path.join(bin_dir, 'llama-perplexity'), '-m', model, '-f', text, '-c', str(CONTEXT), '-b', str(CONTEXT),
                          '-t', '2'], capture_output=True, text=True, timeout=3600)
    found = re.search(r'Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)', out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        sys.exit(f'llama-perplexity failed on {model}: {(out.stdout + out.stderr)[-2000:]}')
    chunks = [float(x) for x in re.findall(r'\[\d+\]([0-9.]+)', out.stdout + out.stderr)]
    return {'context': CONTEXT, 'ppl': float(found.group(1)), 'ppl_error': float(found.group(2)), 'chunk_ppl': chunks}


def version(bin_dir):
    out = subprocess.run([os.path.join(bin_dir, 'llama-server'), '--version'], capture_output=True, text=True)
    line = [l for l in (out.stdout + out.stderr).splitlines() if l.startswith('version')]
    return line[0] if line else 'unknown'


def main():
    bin_dir, oracle, text, outdir = sys.argv[1:5]
    models = [arg.split('=', 1) for arg in sys.argv[5:]]
    prompts = [case['prompt'] for case in json.load(open(oracle))['greedy']]
    os.makedirs(outdir, exist_ok=True)
    for model_id, path in models:
        server, port = serve(bin_dir, path)
        try:
            cases = [greedy(port, prompt) for prompt in prompts]
        finally:
            server.terminate()
            server.wait()
        fixture = {
            'model': model_id,
            'file': os.path.basename(path),
            'bytes': os.path.getsize(path),
            'sha256': sha256(path),
            'reference': f'llama.cpp {version(bin_dir)} (llama-server /tokenize and /completion, temperature 0, n_probs 5, 2 threads; '
                         f'llama-perplexity -c {CONTEXT} -b {CONTEXT} -t 2)',
            'greedy': cases,
            'perplexity': dict(text=os.path.basename(text), text_sha256=sha256(text), **perplexity(bin_dir, path, text)),
        }
        with open(os.path.join(outdir, f'{model_id}.json'), 'w') as f:
            json.dump(fixture, f, indent=1)
            f.write('\n')
        print(model_id, 'ppl', fixture['perplexity']['ppl'], 'greedy', [c['greedy_ids'] for c in cases])


if __name__ == '__main__':
    main()
