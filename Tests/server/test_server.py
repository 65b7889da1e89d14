"""End-to-end tests of `chorus serve`: the real binary on a loopback port, driven by the official
`openai` client and by raw HTTP. Needs CHORUS_BIN (the built `chorus`) and the smollm2-135m model in
the Chorus cache (scripts/test.sh provides both). Every request loop is bounded in count and time."""

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import openai
import pytest

BIN = os.environ.get("CHORUS_BIN", ".build/release/chorus")
MODEL = os.environ.get("CHORUS_SERVER_TEST_MODEL", "smollm2-135m")
KEY = "test-key-123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `chorus serve` process on a free loopback port; waits for /health before returning."""

    def __init__(self, *args):
        self.port = free_port()
        self.process = subprocess.Popen(
            [BIN, "serve", "--model", MODEL, "--host", "127.0.0.1", "--port", str(self.port), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited early: " + "".join(self.stderr_lines))
            try:
                status, _, _ = self.request("GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become healthy in 120 s")

    def _drain(self):
        for line in self.process.stderr:
            self.stderr_lines.append(line)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, key="none", **kw):
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=120, **kw)

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), payload

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


@pytest.fixture(scope="module")
def server():
    s = Server("--parallel", "32", "--context", "512", "--batch", "64", "--queue", "64")
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def small_server():
    """One slot, one queue place and an API key: for auth, 429 and disconnect tests."""
    s = Server("--parallel", "1", "--queue", "1", "--context", "512", "--api-key", KEY)
    yield s
    assert s.stop() == 0


CHAT = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def test_models_and_health(server):
    models = server.client().models.list()
    assert [m.id for m in models.data] == [MODEL]
    status, _, body = server.request("GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_chat_non_streaming_and_streaming_agree(server):
    client = server.client()
    full = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=20, temperature=0)
    choice = full.choices[0]
    assert full.object == "chat.completion"
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert full.usage.prompt_tokens > 5
    assert 1 <= full.usage.completion_tokens <= 20
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens

    chunks = list(client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=20, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [choice.finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == full.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens


def test_completions_non_streaming_and_streaming_agree(server):
    client = server.client()
    prompt = "The three primary colours are"
    full = client.completions.create(model=MODEL, prompt=prompt, max_tokens=16, temperature=0)
    assert full.object == "text_completion"
    assert full.choices[0].finish_reason == "length" and full.usage.completion_tokens == 16
    stream = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=16, temperature=0, stream=True))
    assert "".join(c.choices[0].text for c in stream) == full.choices[0].text
    assert stream[-1].choices[0].finish_reason == "length"


def test_raw_sse_framing_ends_with_done(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/chat/completions", body=json.dumps(
        {"messages": CHAT, "max_tokens": 5, "temperature": 0, "stream": True}), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
    raw = response.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    for e in events[:-1]:
        assert json.loads(e[6:])["object"] == "chat.completion.chunk"


def test_stop_strings(server):
    client = server.client()
    prompt = "List the numbers from one to twenty in words, separated by commas:"
    free = client.completions.create(model=MODEL, prompt=prompt, max_tokens=40, temperature=0).choices[0].text
    assert len(free) > 20, free
    stop = free[len(free) // 2:len(free) // 2 + 3]
    cut = client.completions.create(model=MODEL, prompt=prompt, max_tokens=40, temperature=0, stop=[stop, "zzzz-never"])
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].text == free[:free.index(stop)]
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=40, temperature=0, stop=stop, stream=True))
    assert streamed == cut.choices[0].text


def test_seed_n_and_sampling(server):
    client = server.client()
    a = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0.9, top_p=0.9, seed=7, n=2)
    b = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0.9, top_p=0.9, seed=7, n=2)
    assert len(a.choices) == 2 and [c.index for c in a.choices] == [0, 1]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert 2 <= a.usage.completion_tokens <= 24  # both choices counted
    streamed = list(client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0.9, top_p=0.9, seed=7,
                                                   n=2, stream=True))
    texts = ["", ""]
    for c in streamed:
        for ch in c.choices:
            texts[ch.index] += ch.delta.content or ""
    assert texts == [c.message.content for c in a.choices]


def test_logprobs(server):
    client = server.client()
    r = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert len(entry.top_logprobs) == 3
        assert entry.logprob <= 0
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob)  # greedy picks the most likely
        assert entry.top_logprobs[0].token == entry.token
    c = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5, temperature=0, logprobs=2)
    lp = c.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 5
    assert "".join(lp.tokens) == c.choices[0].text


def test_error_cases(server):
    def post(path, body):
        status, _, payload = server.request("POST", path, body)
        error = json.loads(payload)["error"]
        assert isinstance(error["message"], str) and error["type"]
        return status, error

    assert post("/v1/chat/completions", b"{not json")[0] == 400
    assert post("/v1/chat/completions", {"messages": CHAT, "max_tokens": "ten"})[0] == 400
    assert post("/v1/chat/completions", {"messages": "hello"})[0] == 400
    assert post("/v1/chat/completions", {"max_tokens": 3})[0] == 400
    assert post("/v1/chat/completions", {"messages": CHAT, "temperature": 7})[0] == 400
    assert post("/v1/completions", {"prompt": 42})[0] == 400
    status, error = post("/v1/completions", {"prompt": "hello", "max_tokens": 100000})
    assert status == 400 and error["code"] == "context_length_exceeded"
    status, error = post("/v1/completions", {"prompt": "word " * 2000, "max_tokens": 4})
    assert status == 400 and error["code"] == "context_length_exceeded"
    assert post("/v1/completions", {"prompt": "hi", "n": 1000})[0] == 400
    with pytest.raises(openai.BadRequestError):
        server.client().chat.completions.create(model=MODEL, messages=CHAT, max_tokens=-1)
    assert server.request("GET", "/v1/nothing-here")[0] == 404
    # the server is still fine
    assert server.client().completions.create(model=MODEL, prompt="ok", max_tokens=2).usage.completion_tokens == 2


def test_metrics(server):
    status, headers, body = server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values["chorus_generated_tokens_total"] > 0
    assert values["chorus_prompt_tokens_total"] > 0
    assert "chorus_queue_length" in values and "chorus_tokens_per_second" in values and "chorus_batch_size" in values
    assert any(k.startswith('chorus_requests_total{endpoint="/v1/chat/completions",status="200"}') for k in values)


def test_auth(small_server):
    with pytest.raises(openai.AuthenticationError):
        small_server.client(key="wrong").models.list()
    status, _, body = small_server.request("POST", "/v1/completions", {"prompt": "hi", "max_tokens": 1})
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    assert small_server.request("GET", "/health")[0] == 200
    ok = small_server.client(key=KEY).completions.create(model=MODEL, prompt="hi", max_tokens=2)
    assert ok.usage.completion_tokens == 2


def open_stream(port, body, key=KEY):
    """Starts a streaming request and returns (connection, response) once the headers arrived."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/v1/completions", body=json.dumps({**body, "stream": True}),
                       headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    return connection, connection.getresponse()


def wait_idle(server, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        health = json.loads(server.request("GET", "/health")[2])
        if health["slots_busy"] == 0 and health["queued"] == 0:
            return True
        time.sleep(0.05)
    return False


def test_busy_gets_429_and_disconnect_frees_the_slot(small_server):
    long = {"prompt": "Count slowly:", "max_tokens": 400, "temperature": 0}
    first, first_response = open_stream(small_server.port, long)
    assert first_response.status == 200
    first_response.readline()  # one event: the sequence is running
    second, second_response = open_stream(small_server.port, long)  # queued
    status, headers, body = small_server.request("POST", "/v1/completions", long, headers={"Authorization": f"Bearer {KEY}"})
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert json.loads(body)["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError):
        small_server.client(key=KEY).completions.create(model=MODEL, prompt="x", max_tokens=1)
    # Both clients hang up mid-stream: the slot and the queue place free at once.
    first.sock.shutdown(socket.SHUT_RDWR)
    first.close()
    second.sock.shutdown(socket.SHUT_RDWR)
    second.close()
    assert wait_idle(small_server, timeout=3), "slot still busy after the clients disconnected"
    start = time.time()
    ok = small_server.client(key=KEY).completions.create(model=MODEL, prompt="x", max_tokens=2)
    assert ok.usage.completion_tokens == 2 and time.time() - start < 10


def test_non_streaming_disconnect_frees_the_slot(small_server):
    connection = http.client.HTTPConnection("127.0.0.1", small_server.port, timeout=60)
    connection.request("POST", "/v1/completions", body=json.dumps({"prompt": "Count:", "max_tokens": 450, "ignore_eos": True}),
                       headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    deadline = time.time() + 10
    while json.loads(small_server.request("GET", "/health")[2])["slots_busy"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    assert wait_idle(small_server, timeout=3), "slot still busy after the client hung up"


LOAD_PROMPTS = [
    f"{topic} Explain it in two sentences." for topic in [
        "Why is the sky blue?", "What is a prime number?", "How do bees make honey?", "What is recursion?",
        "Why do cats purr?", "What is photosynthesis?", "How does a compass work?", "What is gravity?",
        "Why is the ocean salty?", "What is a black hole?", "How do vaccines work?", "What is inflation?",
        "Why do leaves change colour?", "What is a neural network?", "How do airplanes fly?", "What is DNA?",
        "Why do we dream?", "What is an atom?", "How does rain form?", "What is a volcano?",
        "Why do stars twinkle?", "What is electricity?", "How do magnets work?", "What is a rainbow?",
        "Why is ice slippery?", "What is a hash table?", "How do tides work?", "What is an eclipse?",
        "Why do onions make you cry?", "What is a compiler?", "How does the heart pump blood?", "What is sound?",
    ]
]


def stream_tokens(server, prompt, max_tokens):
    """Streams one greedy chat completion; returns (tokens, logprob values, finish reason)."""
    tokens, values, finish = [], [], None
    stream = server.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0,
        logprobs=True, top_logprobs=0, stream=True)
    for chunk in stream:
        for choice in chunk.choices:
            if choice.logprobs and choice.logprobs.content:
                for entry in choice.logprobs.content:
                    tokens.append(entry.token)
                    values.append(entry.logprob)
            if choice.finish_reason:
                finish = choice.finish_reason
    return tokens, values, finish


def test_load_32_concurrent_streams_match_each_alone(server):
    max_tokens = 24
    alone = [stream_tokens(server, p, max_tokens) for p in LOAD_PROMPTS]
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        together = list(pool.map(lambda p: stream_tokens(server, p, max_tokens), LOAD_PROMPTS))
    assert time.time() - start < 300
    for i, (a, t) in enumerate(zip(alone, together)):
        assert t[2] in ("stop", "length"), f"request {i} did not finish"
        assert a[0], f"request {i} produced nothing"
        assert t[0] == a[0], f"request {i}: tokens differ between alone and among 31 others"
        assert t[1] == a[1], f"request {i}: log-probabilities differ (not bit-identical logits)"
    assert len({tuple(a[0]) for a in alone}) > 16, "prompts should give mostly different answers"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown(sig):
    s = Server("--parallel", "2", "--context", "256", "--shutdown-grace", "2")
    connection, response = open_stream(s.port, {"prompt": "Tell a long story:", "max_tokens": 230, "temperature": 0})
    assert response.status == 200
    response.readline()
    start = time.time()
    s.process.send_signal(sig)
    rest = response.read().decode()  # the stream ends: finished or cut short with an error event, then [DONE]
    assert rest.rstrip().endswith("data: [DONE]")
    assert s.process.wait(timeout=60) == 0
    assert time.time() - start < 30
    connection.close()


def test_skeleton_of_thought(server):
    status, _, body = server.request("POST", "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Explain how to make a cup of tea."}], "max_tokens": 24, "temperature": 0,
        "chorus": {"skeleton_of_thought": True}})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["object"] == "chat.completion"
    content = answer["choices"][0]["message"]["content"]
    sot = answer["chorus"]["skeleton_of_thought"]
    assert content
    if sot["used"]:
        assert len(sot["points"]) >= 2
        assert content.startswith("1. ") and "\n2. " in content
    assert answer["usage"]["completion_tokens"] > 0
    streamed = "".join(c.choices[0].delta.content or "" for c in server.client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Explain how to make a cup of tea."}], max_tokens=24, temperature=0,
        stream=True, extra_body={"chorus": {"skeleton_of_thought": True}}) if c.choices)
    assert streamed == content  # greedy, batch invariant: the same answer again
    status, _, _ = server.request("POST", "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "hi"}], "n": 2, "chorus": {"skeleton_of_thought": True}})
    assert status == 400


def metric(server, name):
    _, _, body = server.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_execution_plan_speculates_with_its_drafter(server, tmp_path):
    """`--plan` takes a `chorus tune` execution plan: its drafter (here prompt lookup, a 3-chain) drafts
    in the server, and greedy output equals the plain server's; a file that is no plan is refused."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"threads": 2, "drafter": "ngram", "tree": {"branching": [1, 1, 1]},
                                "verification_width": 4}))
    body = {"prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2,", "max_tokens": 24,
            "temperature": 0}
    status, _, plain = server.request("POST", "/v1/completions", body)
    assert status == 200
    s = Server("--parallel", "2", "--context", "256", "--plan", str(plan))
    try:
        status, _, planned = s.request("POST", "/v1/completions", body)
        assert status == 200
        assert json.loads(planned)["choices"][0]["text"] == json.loads(plain)["choices"][0]["text"]
        assert metric(s, "chorus_speculative_accepted_tokens_total") > 0
    finally:
        assert s.stop() == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"threads": "two"}')
    process = subprocess.run([BIN, "serve", "--model", MODEL, "--port", "0", "--plan", str(bad)],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode != 0
    assert "neither an execution plan" in process.stderr


def test_tree_plan_serves_the_tokens_generate_gives(tmp_path):
    """`serve --plan` verifies the plan's token tree (not a chain) for every speculating sequence:
    greedy completions, alone and two in one pass, equal `chorus generate --plan` with the same plan,
    and each verification drafts more tokens than a chain as deep as the tree could."""
    plan = tmp_path / "tree.json"
    # The model drafts for itself (restricted to its first 32768 ids), filling a 2-2-1 tree.
    plan.write_text(json.dumps({"threads": 2, "drafter": MODEL, "tree": {"branching": [2, 2, 1]}}))
    prompts = ["def fibonacci(n):", "The history of the printing press"]
    expected = []
    for prompt in prompts:
        run = subprocess.run([BIN, "generate", "--model", MODEL, "--context", "256", "--plan", str(plan), "--temperature", "0",
                              "-n", "24", "--json", prompt], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        expected.append(json.loads(run.stdout))
        assert expected[-1]["speculative"]["accepted"] > 0
    s = Server("--parallel", "2", "--context", "256", "--plan", str(plan))
    try:
        def complete(prompt):
            status, _, body = s.request("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 24, "temperature": 0},
                                        timeout=300)
            assert status == 200
            return json.loads(body)

        for prompt, want in zip(prompts, expected):
            got = complete(prompt)
            assert got["choices"][0]["text"] == want["text"]
            assert got["usage"]["completion_tokens"] == len(want["ids"])
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            both = list(pool.map(complete, prompts))
        assert [b["choices"][0]["text"] for b in both] == [w["text"] for w in expected]
        drafted = metric(s, "chorus_speculative_drafted_tokens_total")
        verifications = metric(s, "chorus_speculative_verifications_total")
        assert metric(s, "chorus_speculative_accepted_tokens_total") > 0
        assert verifications > 0 and drafted > 3 * verifications, f"{drafted} drafted in {verifications} verifications"
    finally:
        assert s.stop() == 0
