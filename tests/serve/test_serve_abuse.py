"""Requests that try to hurt the server or the other clients: each is refused alone or stopped, and what else
is running goes on unchanged (issue 18's abuse cases)."""

import threading
import time

import httpx
import pytest
import torch
from serve_helpers import Collector, live_server, slowed, submit

import roots.serve.engine as engine_module
from roots.serve.engine import Engine, Request
from roots.serve.sampling import SamplingParams

KEY = "k"


@pytest.fixture(scope="module")
def slow_server(tiny_model):
    # 20 ms a forward pass: a 100-token generation lasts seconds, long enough to act while it runs
    with live_server(slowed(tiny_model), api_key=KEY, max_tokens_limit=120) as (url, app):
        yield url, app


def post(url, path, key=KEY, timeout=60, **kwargs):
    return httpx.post(url + path, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, **kwargs)


def wait_idle(engine, seconds=20):
    """Until every submitted request has finished (one being prefilled is neither running nor waiting)."""
    deadline = time.monotonic() + seconds
    stats = engine.stats
    # a request is counted finished before the engine's step drops its row: wait for both
    while ((stats["requests_finished"] < stats["requests_total"] or engine.num_running)
           and time.monotonic() < deadline):
        time.sleep(0.02)
    assert stats["requests_finished"] == stats["requests_total"] and engine.num_running == 0


def test_a_hostile_request_during_a_long_generation_leaves_it_intact(slow_server):
    url, app = slow_server
    body = {"prompt": "The quick brown", "max_tokens": 100, "temperature": 0, "ignore_eos": True}
    chunks, first = [], threading.Event()

    def long_stream():
        with httpx.stream("POST", url + "/v1/completions", json={**body, "stream": True}, timeout=60,
                          headers={"Authorization": f"Bearer {KEY}"}) as r:
            for line in r.iter_lines():
                chunks.append(line)
                first.set()

    thread = threading.Thread(target=long_stream)
    thread.start()
    assert first.wait(30)
    hostile = post(url, "/v1/completions", json={"prompt": "x", "max_tokens": 5, "top_k": 2**63})
    assert hostile.status_code == 400 and hostile.json()["error"]["param"] == "top_k"
    assert app.state.roots.engine.num_running == 1  # the long generation is still decoding
    thread.join(60)
    import json

    streamed = "".join(json.loads(c[6:])["choices"][0]["text"] for c in chunks
                       if c.startswith("data: {") and json.loads(c[6:])["choices"])
    alone = post(url, "/v1/completions", json=body).json()["choices"][0]
    assert alone["finish_reason"] == "length" and streamed == alone["text"]


@pytest.mark.parametrize("path,body,n_requests", [
    ("/v1/completions", {"prompt": "The", "n": 4}, 4),
    ("/v1/completions", {"prompt": ["The", "A language"], "n": 2}, 4),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "n": 3}, 3),
])
def test_a_disconnected_non_streaming_request_stops_decoding(slow_server, path, body, n_requests):
    url, app = slow_server
    engine = app.state.roots.engine
    wait_idle(engine)
    stats = engine.stats
    submitted, cancelled, generated = (stats["requests_total"], stats["requests_cancelled"],
                                       stats["generation_tokens_total"])
    with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
        post(url, path, json={**body, "max_tokens": 100, "ignore_eos": True}, timeout=httpx.Timeout(60, read=0.5))
    deadline = time.monotonic() + 20  # the server may see the request only after the client has left
    while stats["requests_total"] - submitted < n_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    wait_idle(engine)
    assert engine.stats["requests_cancelled"] - cancelled == n_requests
    assert engine.stats["generation_tokens_total"] - generated < n_requests * 100
    metrics = httpx.get(url + "/metrics").text
    assert f"roots_requests_cancelled_total {engine.stats['requests_cancelled']}" in metrics


def test_a_disconnected_stream_stops_decoding(slow_server):
    url, app = slow_server
    engine = app.state.roots.engine
    wait_idle(engine)
    stats = engine.stats
    cancelled, generated = stats["requests_cancelled"], stats["generation_tokens_total"]
    body = {"prompt": "The", "n": 2, "max_tokens": 100, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {KEY}"}) as r:
        next(r.iter_lines())  # one event, then hang up
    wait_idle(engine)
    assert stats["requests_cancelled"] - cancelled == 2
    assert stats["generation_tokens_total"] - generated < 2 * 100


@pytest.fixture(scope="module")
def server(tiny_model):
    with live_server(tiny_model, api_key=KEY, max_tokens_limit=64) as (url, _app):
        yield url


@pytest.mark.parametrize("path,body,param", [
    ("/v1/completions", {"prompt": "ok \ud800", "max_tokens": 2}, "prompt"),
    ("/v1/completions", {"prompt": ["fine", "\udfff"], "max_tokens": 2}, "prompt"),
    ("/v1/completions", {"prompt": "ok", "stop": "\ud800", "max_tokens": 2}, "stop"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "\ud800"}]}, "messages"),
    ("/v1/embeddings", {"input": "\ud800"}, "input"),
])
def test_lone_surrogates_are_a_400(server, path, body, param):
    import json

    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape "\ud800", as clients send it
    r = httpx.post(
        server + path, content=raw.encode(), timeout=60,
        headers={"Authorization": f"Bearer {KEY}", "content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and "not valid Unicode" in r.json()["error"]["message"]


def test_bad_json_is_checked_after_the_key(server):
    headers = {"content-type": "application/json"}
    wrong = httpx.post(server + "/v1/completions", content=b"{not json", timeout=30,
                       headers={**headers, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
    right = httpx.post(server + "/v1/completions", content=b"{not json", timeout=30,
                       headers={**headers, "Authorization": f"Bearer {KEY}"})
    assert right.status_code == 400
    assert "not valid JSON" in right.json()["error"]["message"] and right.json()["error"]["param"] is None


@pytest.mark.parametrize("raw,param", [
    ('{"prompt": "a", "temperature": NaN}', "temperature"),
    ('{"prompt": "a", "top_p": Infinity}', "top_p"),
    ('{"prompt": "a", "repetition_penalty": -Infinity}', "repetition_penalty"),
    ('{"prompt": "a", "top_k": 9223372036854775808}', "top_k"),
    ('{"prompt": "a", "top_k": 100000}', "top_k"),
    ('{"prompt": "a", "stop": ["s"' + ', "s"' * 16 + "]}", "stop"),
    ('{"prompt": "a", "stop": "' + "s" * 300 + '"}', "stop"),
    ('{"prompt": "a", "stop_token_ids": [' + ", ".join(["1"] * 65) + "]}", "stop_token_ids"),
    ('{"prompt": "a", "seed": 99999999999999999999999}', "seed"),
    ('{"prompt": [[1, 2], [1, 99999999999999999999]]}', "prompt"),
])
def test_every_sampling_field_is_bounded(server, raw, param):
    r = httpx.post(server + "/v1/completions", content=raw.encode(), timeout=30,
                   headers={"Authorization": f"Bearer {KEY}", "content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_top_p_zero_is_greedy(server):
    body = {"prompt": "The quick", "max_tokens": 10, "ignore_eos": True}
    greedy = post(server, "/v1/completions", json={**body, "temperature": 0}).json()["choices"][0]["text"]
    for seed in (1, 2):
        r = post(server, "/v1/completions", json={**body, "top_p": 0, "temperature": 1.5, "seed": seed})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == greedy


# ---- the engine on its own: a bad row fails alone, the batch goes on ----

def greedy_alone(tiny_model, prompt, n):
    e = Engine(tiny_model, max_batch_size=1).start()
    try:
        return submit(e, prompt, max_tokens=n, temperature=0, ignore_eos=True).tokens
    finally:
        e.shutdown(drain_seconds=0)


def test_engine_refuses_an_invalid_row_alone(tiny_model):
    prompt = tiny_model.codec.encode("The quick brown")
    e = Engine(slowed(tiny_model, 0.005), max_batch_size=4).start()
    try:
        good = submit(e, prompt, max_tokens=40, temperature=0, ignore_eos=True)
        bad = Collector()
        e.submit(Request([1, 2], SamplingParams(top_k=2**63, max_tokens=5), bad))
        (out,) = bad.wait()
        assert out.finish_reason == "error" and out.client_error and "top_k" in out.error
        assert good.tokens == greedy_alone(tiny_model, prompt, 40)
        assert e.stats["requests_failed"] == 1 and e.stats["errors_total"] == 0
    finally:
        e.shutdown(drain_seconds=0)


def test_engine_isolates_a_row_whose_sampling_fails(tiny_model, monkeypatch):
    """A failure nobody validated for (here: the sampler raising for one row) is a logged server error for
    that row only; the rows sampled with it in the same batch carry on with their own tokens."""
    draw = engine_module.draw

    def fragile(logits, params, generators):
        if any(p.seed == 666 for p in params):
            raise RuntimeError("sampler broke")
        return draw(logits, params, generators)

    monkeypatch.setattr(engine_module, "draw", fragile)
    prompts = [tiny_model.codec.encode(t) for t in ("The quick brown", "A language model")]
    e = Engine(slowed(tiny_model, 0.005), max_batch_size=4).start()
    try:
        goods = [submit(e, p, max_tokens=30, temperature=0, ignore_eos=True) for p in prompts]
        bad = submit(e, prompts[0], max_tokens=30, temperature=1.0, seed=666, ignore_eos=True)
        assert bad.wait()[-1].finish_reason == "error" and not bad.outputs[-1].client_error
        for good, prompt in zip(goods, prompts):
            assert good.tokens == greedy_alone(tiny_model, prompt, 30)
        assert e.stats["requests_failed"] == 1
    finally:
        e.shutdown(drain_seconds=0)


def test_engine_isolates_a_row_whose_prefill_fails(tiny_model):
    e = Engine(tiny_model, max_batch_size=4)
    forward = e.backend.forward

    def fragile(input_ids, *args, **kwargs):
        if input_ids.shape[1] > 1 and (input_ids == 7).any():
            raise RuntimeError("boom")
        return forward(input_ids, *args, **kwargs)

    e.backend = type("Fragile", (), {"forward": staticmethod(fragile), "device": torch.device("cpu")})()
    good_prompt = [5, 6, 9]
    # both arrive before the engine starts, so they are prefilled together
    bad = submit(e, [5, 7, 9], max_tokens=4, ignore_eos=True)
    good = submit(e, good_prompt, max_tokens=4, ignore_eos=True, temperature=0)
    e.start()
    try:
        assert bad.wait()[-1].finish_reason == "error"
        assert good.wait()[-1].finish_reason == "length"
        assert good.tokens == greedy_alone(tiny_model, good_prompt, 4)
    finally:
        e.shutdown(drain_seconds=0)
