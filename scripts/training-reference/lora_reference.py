#!/usr/bin/env python3
"""Independent reference for Chorus's LoRA fine-tuning (issue 17): the training loss of a short token
sequence on smollm2-135m with its weights dequantised to f32, every LoRA gradient, and two AdamW steps.

It reads the GGUF with llama.cpp's gguf-py (dequantising with its `quants` module), builds the llama
forward pass in JAX (float64 arithmetic on the f32 weights, so the reference carries no rounding of
its own worth speaking of), and differentiates it with jax.grad. No Chorus code is used.

usage:
  pip install jax            # CPU wheels; CI never runs this script, it reads the committed fixture
  python3 scripts/training-reference/lora_reference.py \
      --model ~/.cache/chorus/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --gguf-py /work/llama/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py \
      --llama-bin /work/llama/llama_cpp_python-0.3.36/vendor/llama.cpp/build/bin \
      --out Tests/Fixtures/training/smollm2-135m-lora.json

The token sequence is the first 25 tokens of text.txt (beside this script) as llama-tokenize gives them.
The forward pass is checked against llama.cpp first: the reference's perplexity of text.txt (no adapter)
under llama-perplexity's protocol (context 128, the second half of each chunk scored) must be within 2%
of llama-perplexity's own on the quantised model (they differ by llama.cpp's int8 activations); both are
kept in the fixture. So is the LoRA convention: an adapter drawn with B bound 0.05, written with gguf-py's
GGUFWriter in llama.cpp's layout, must give llama-perplexity --lora a perplexity within 2% of the reference's
with the same adapter.

The LoRA layout and initialisation (Chorus's `LoRAInitialisation` reproduces it bit for bit):
- targets q,k,v,o,gate,up,down = GGUF tensors attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,
  ffn_down of every layer; rank r = 8, alpha = 16, so scale = alpha / r = 2 (llama.cpp's get_scale).
- A (r x in, llama.cpp's `lora_a`, GGUF dims [in, r]) and B (out x r, `lora_b`, GGUF dims [r, out]);
  y = W x + scale * B (A x).
- stream(layer, target, which) = (layer * 7 + target) * 2 + which (target index in the order above,
  which = 0 for A, 1 for B); key = splitmix64_mix(seed + stream * 0x9E3779B97F4A7C15 mod 2^64);
  element i (row-major) takes h = splitmix64_mix(key + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64),
  u = (h >> 40) * 2^-24 (exact in f32), and the value f32(f32(2u - 1) * bound), where
  bound_A = f32(1) / sqrt(f32(in)) and bound_B = b_scale (0 in real training; 0.02 here so that the
  gradients of A are not zero too).
- splitmix64_mix(z): z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB;
  z ^ z >> 31 (all mod 2^64).

The loss is the mean cross-entropy of tokens[1:] predicted from tokens[:-1] (every position counts).
AdamW is PyTorch's (torch.optim.AdamW, decoupled weight decay, bias correction, eps outside the root):
  p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
  p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
Two steps: gradients g0 at the initial adapter, step, the loss and gradients g1 there, step again.

The fixture is small: the loss before and after the first step, and per LoRA tensor its gradient norms
and the values at 8 sampled positions (initial value, g0, after step 1, g1, after step 2).
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
TARGETS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
SEQUENCE_TOKENS = 25
PPL_CONTEXT = 128


def mix64(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def lora_values(seed, stream, count, bound):
    key = mix64(np.uint64((seed + stream * GOLDEN) & MASK))
    with np.errstate(over="ignore"):
        idx = np.arange(1, count + 1, dtype=np.uint64)
        h = mix64(key + idx * np.uint64(GOLDEN))
    u = (h >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    return ((np.float32(2) * u - np.float32(1)) * np.float32(bound)).astype(np.float32)


def sample_positions(stream, count, n=8):
    key = mix64(np.uint64((0x5EED + stream * GOLDEN) & MASK))
    with np.errstate(over="ignore"):
        h = mix64(key + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN))
    return [int(x % np.uint64(count)) for x in h]


def load_model(path, gguf_py):
    sys.path.insert(0, gguf_py)
    import gguf
    from gguf import quants

    reader = gguf.GGUFReader(path)
    meta = {}
    for key, field in reader.fields.items():
        if key.startswith("llama.") or key == "general.architecture":
            meta[key] = field.contents()
    weights = {}
    for t in reader.tensors:
        ne = [int(x) for x in t.shape]
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            data = np.array(t.data, dtype=np.float32)
        else:
            data = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        weights[t.name] = data.reshape(list(reversed(ne)))  # rows = ne[1], columns = ne[0]
    return meta, weights


def build(meta, weights, rank, alpha):
    import jax
    import jax.numpy as jnp

    n_layer = int(meta["llama.block_count"])
    n_head = int(meta["llama.attention.head_count"])
    n_kv = int(meta["llama.attention.head_count_kv"])
    dim = int(meta["llama.embedding_length"])
    eps = float(meta["llama.attention.layer_norm_rms_epsilon"])
    theta = float(meta["llama.rope.freq_base"])
    hd = dim // n_head
    scale = alpha / rank
    w = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in weights.items()}
    out_w = w.get("output.weight", w["token_embd.weight"])
    # llama.cpp's rope for LLM_ARCH_LLAMA is the "normal" mode: rotate adjacent pairs (2i, 2i+1).
    freqs = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)

    def rope(x):  # x: [n, heads, hd]
        n = x.shape[0]
        ang = np.arange(n, dtype=np.float64)[:, None] * freqs[None, :]
        c, s = jnp.asarray(np.cos(ang))[:, None, :], jnp.asarray(np.sin(ang))[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return jnp.stack([x0 * c - x1 * s, x0 * s + x1 * c], axis=-1).reshape(x.shape)

    def rms(x, g):
        return x / jnp.sqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * g

    def lin(x, name, lora):
        y = x @ w[name + ".weight"].T
        a, b = lora[name + ".weight.lora_a"], lora[name + ".weight.lora_b"]
        return y + scale * ((x @ a.T) @ b.T)

    def forward(lora, toks):
        n = toks.shape[0]
        mask = jnp.tril(jnp.ones((n, n), dtype=bool))
        x = w["token_embd.weight"][toks]
        for l in range(n_layer):
            p = f"blk.{l}."
            h = rms(x, w[p + "attn_norm.weight"])
            q = rope(lin(h, p + "attn_q", lora).reshape(n, n_head, hd))
            k = rope(lin(h, p + "attn_k", lora).reshape(n, n_kv, hd))
            v = lin(h, p + "attn_v", lora).reshape(n, n_kv, hd)
            k = jnp.repeat(k, n_head // n_kv, axis=1)
            v = jnp.repeat(v, n_head // n_kv, axis=1)
            s = jnp.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd)
            s = jnp.where(mask[None], s, -jnp.inf)
            a = jax.nn.softmax(s, axis=-1)
            o = jnp.einsum("hqk,khd->qhd", a, v).reshape(n, dim)
            x = x + lin(o, p + "attn_output", lora)
            h = rms(x, w[p + "ffn_norm.weight"])
            g = lin(h, p + "ffn_gate", lora)
            u = lin(h, p + "ffn_up", lora)
            x = x + lin(jax.nn.silu(g) * u, p + "ffn_down", lora)
        x = rms(x, w["output_norm.weight"])
        return jax.nn.log_softmax(x @ out_w.T, axis=-1)

    def loss(lora, toks, targets):
        logp = forward(lora, toks)
        return -jnp.mean(logp[jnp.arange(toks.shape[0]), targets])

    return jax.jit(jax.value_and_grad(loss)), jax.jit(forward), n_layer


def tokenize(llama_bin, model, text):
    out = subprocess.run([os.path.join(llama_bin, "llama-tokenize"), "-m", model, "-f", text, "--ids", "--log-disable"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return [int(x) for x in out.strip().splitlines()[-1].strip("[]").split(",")]


def llama_perplexity(llama_bin, model, text, lora=None):
    run = subprocess.run([os.path.join(llama_bin, "llama-perplexity"), "-m", model, "-f", text, "-c", str(PPL_CONTEXT), "-b", str(PPL_CONTEXT),
                          "-t", "2"] + (["--lora", lora] if lora else []), capture_output=True, text=True, timeout=900)
    found = re.search(r"Final estimate: PPL = ([0-9.]+)", run.stdout + run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit("llama-perplexity failed:\n" + (run.stdout + run.stderr)[-2000:])
    return float(found.group(1))


def reference_perplexity(forward, lora, tokens):
    """llama-perplexity's protocol: chunks of PPL_CONTEXT tokens, the second half of each scored."""
    nll, count = 0.0, 0
    first = PPL_CONTEXT // 2
    for c in range(len(tokens) // PPL_CONTEXT):
        chunk = np.array(tokens[c * PPL_CONTEXT:(c + 1) * PPL_CONTEXT])
        logp = np.asarray(forward(lora, chunk))
        for j in range(first, PPL_CONTEXT - 1):
            nll -= logp[j, chunk[j + 1]]
            count += 1
    return float(np.exp(nll / count))


def adamw(p, g, m, v, t, lr, b1, b2, eps, wd):
    p = p * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    p = p - (lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + eps)
    return p, m, v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--gguf-py", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--b-scale", type=float, default=0.02)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--llama-bin", required=True, help="llama.cpp's build/bin (llama-tokenize, llama-perplexity)")
    args = ap.parse_args()

    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    text = os.path.join(os.path.dirname(os.path.abspath(__file__)), "text.txt")
    all_tokens = tokenize(args.llama_bin, args.model, text)
    tokens = all_tokens[:SEQUENCE_TOKENS]
    meta, weights = load_model(args.model, args.gguf_py)
    assert meta["general.architecture"] == "llama", meta["general.architecture"]
    value_and_grad0, forward, n_layer = build(meta, weights, args.rank, args.alpha)
    toks, targets = jnp.asarray(tokens[:-1]), jnp.asarray(tokens[1:])
    value_and_grad = lambda lora: value_and_grad0(lora, toks, targets)

    lora = {}
    order = []
    for l in range(n_layer):
        for ti, t in enumerate(TARGETS):
            base = f"blk.{l}.{t}.weight"
            rows, cols = weights[base].shape  # out, in
            sa, sb = (l * 7 + ti) * 2, (l * 7 + ti) * 2 + 1
            a = lora_values(args.seed, sa, args.rank * cols, np.float32(1) / np.sqrt(np.float32(cols)))
            b = lora_values(args.seed, sb, rows * args.rank, np.float32(args.b_scale))
            lora[base + ".lora_a"] = a.reshape(args.rank, cols)
            lora[base + ".lora_b"] = b.reshape(rows, args.rank)
            order += [(base + ".lora_a", sa, [cols, args.rank]), (base + ".lora_b", sb, [args.rank, rows])]

    hp = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.01)
    p0 = {k: v.astype(np.float64) for k, v in lora.items()}
    loss0, g0 = value_and_grad({k: jnp.asarray(v) for k, v in p0.items()})
    g0 = {k: np.asarray(v) for k, v in g0.items()}
    m = {k: np.zeros_like(v) for k, v in p0.items()}
    vv = {k: np.zeros_like(v) for k, v in p0.items()}
    p1 = {}
    for k in p0:
        p1[k], m[k], vv[k] = adamw(p0[k], g0[k], m[k], vv[k], 1, **hp)
    loss1, g1 = value_and_grad({k: jnp.asarray(v) for k, v in p1.items()})
    g1 = {k: np.asarray(v) for k, v in g1.items()}
    p2 = {}
    for k in p0:
        p2[k], m[k], vv[k] = adamw(p1[k], g1[k], m[k], vv[k], 2, **hp)

    # The base model (no adapter: B = 0) against llama.cpp: perplexity of text.txt under llama-perplexity's protocol.
    zero = {k: (jnp.zeros_like(jnp.asarray(v)) if k.endswith("lora_b") else jnp.asarray(v)) for k, v in p0.items()}
    base_logp = np.asarray(forward(zero, toks))
    base_loss = float(-np.mean(base_logp[np.arange(len(tokens) - 1), tokens[1:]]))
    ppl_reference = reference_perplexity(forward, zero, all_tokens)
    ppl_llama = llama_perplexity(args.llama_bin, args.model, text)
    print(f"base-model perplexity of text.txt: reference {ppl_reference:.4f}, llama.cpp {ppl_llama:.4f}")
    if abs(ppl_reference - ppl_llama) > 0.02 * ppl_llama:
        raise SystemExit("the reference forward disagrees with llama.cpp: fix the reference before trusting its gradients")

    # The LoRA convention against llama.cpp: an adapter with B bound 0.05 written by gguf-py.
    import tempfile
    sys.path.insert(0, args.gguf_py)
    import gguf
    check = {}
    for name, stream, dims in order:
        if name.endswith("lora_a"):
            check[name] = lora[name]
        else:
            check[name] = lora_values(args.seed, stream, dims[0] * dims[1], np.float32(0.05)).reshape(dims[1], dims[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "reference-adapter.gguf")
        writer = gguf.GGUFWriter(path, "llama")
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(args.alpha))
        for name, _, _ in order:
            writer.add_tensor(name, check[name].astype(np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        ppl_llama_lora = llama_perplexity(args.llama_bin, args.model, text, path)
    ppl_reference_lora = reference_perplexity(forward, {k: jnp.asarray(v.astype(np.float64)) for k, v in check.items()}, all_tokens)
    print(f"perplexity with a 0.05-bound adapter: reference {ppl_reference_lora:.4f}, llama.cpp {ppl_llama_lora:.4f}")
    if abs(ppl_reference_lora - ppl_llama_lora) > 0.02 * ppl_llama_lora:
        raise SystemExit("the reference's LoRA disagrees with llama.cpp's")

    tensors = []
    for name, stream, dims in order:
        count = p0[name].size
        pos = sample_positions(stream, count)
        flat = lambda d: d[name].reshape(-1)
        tensors.append({
            "name": name, "dims": dims, "stream": stream,
            "norm_initial": float(np.linalg.norm(flat(p0))),
            "grad0_norm": float(np.linalg.norm(flat(g0))), "grad1_norm": float(np.linalg.norm(flat(g1))),
            "positions": pos,
            "initial": [float(flat(p0)[i]) for i in pos],
            "grad0": [float(flat(g0)[i]) for i in pos],
            "step1": [float(flat(p1)[i]) for i in pos],
            "grad1": [float(flat(g1)[i]) for i in pos],
            "step2": [float(flat(p2)[i]) for i in pos],
        })
    fixture = {
        "source": "scripts/training-reference/lora_reference.py (JAX %s, float64 on f32-dequantised weights)" % jax.__version__,
        "model": os.path.basename(args.model),
        "tokens": tokens,
        "seed": args.seed, "rank": args.rank, "alpha": args.alpha, "b_scale": args.b_scale,
        "targets": TARGETS,
        "adamw": hp,
        "loss0": float(loss0), "loss1": float(loss1),
        "base_loss": base_loss,
        "perplexity_check": {"reference": ppl_reference, "llama_cpp": ppl_llama, "context": PPL_CONTEXT,
                             "lora_b_bound": 0.05, "reference_lora": ppl_reference_lora, "llama_cpp_lora": ppl_llama_lora},
        "tensors": tensors,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(f"loss0 {float(loss0):.9f} loss1 {float(loss1):.9f} base {base_loss:.9f}; {len(tensors)} tensors -> {args.out}")


if __name__ == "__main__":
    main()
