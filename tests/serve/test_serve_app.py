"""The OpenAI-compatible server, driven by the official `openai` client and raw HTTP for error paths."""

import base64
import json
import time

import httpx
import numpy as np
import openai
import pytest
import torch
from serve_helpers import live_server

KEY = "test-key"


@pytest.fixture(scope="module")
def server(tiny_model):
    with live_server(tiny_model, api_key=KEY, max_request_bytes=20_000, max_tokens_limit=64) as (url, app):
        yield url, app


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def greedy_text(tiny_model, prompt_ids, n):
    out = tiny_model.backend.model.generate(torch.tensor([prompt_ids]), max_new_tokens=n, min_new_tokens=n,
                                            do_sample=False, pad_token_id=0,
                                            attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long))
    return tiny_model.codec.decode(out[0, len(prompt_ids):].tolist())


def test_models(client):
    (model,) = client.models.list().data
    assert model.id == "tiny-gpt2"


def test_completion_greedy_equals_reference(client, tiny_model):
    r = client.completions.create(model="tiny-gpt2", prompt="The quick brown", max_tokens=12, temperature=0,
                                  extra_body={"ignore_eos": True})
    ids = tiny_model.codec.encode("The quick brown")
    assert r.choices[0].text == greedy_text(tiny_model, ids, 12)
    assert r.choices[0].finish_reason == "length"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (len(ids), 12)


def test_completion_stream_equals_non_stream(client):
    kwargs = dict(model="tiny-gpt2", prompt="A language model", max_tokens=20, temperature=0.9, seed=5,
                  extra_body={"ignore_eos": True})
    whole = client.completions.create(**kwargs).choices[0].text
    chunks = list(client.completions.create(stream=True, **kwargs))
    assert "".join(c.choices[0].text for c in chunks) == whole
    assert chunks[-1].choices[0].finish_reason == "length"


def test_sse_ends_with_done(http):
    body = {"model": "tiny-gpt2", "prompt": "The", "max_tokens": 3, "stream": True,
            "stream_options": {"include_usage": True}}
    with http.stream("POST", "/v1/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["usage"]["completion_tokens"] <= 3


def test_chat_and_chat_stream(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    kwargs = dict(model="tiny-gpt2", messages=messages, max_tokens=15, temperature=0)
    r = client.chat.completions.create(**kwargs)
    assert r.choices[0].message.role == "assistant"
    assert r.usage.prompt_tokens > 5
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == r.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_chat_logprobs(client):
    r = client.chat.completions.create(model="tiny-gpt2", messages=[{"role": "user", "content": "Hi"}],
                                       max_tokens=4, temperature=0, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert 1 <= len(content) <= 4
    for item in content:
        assert item.token == item.top_logprobs[0].token and len(item.top_logprobs) == 2
        assert item.logprob == pytest.approx(item.top_logprobs[0].logprob)


def test_n_choices_with_seed_are_reproducible(client):
    kwargs = dict(model="tiny-gpt2", prompt="The", max_tokens=10, n=3, seed=11, temperature=1.0,
                  extra_body={"ignore_eos": True})
    first = [c.text for c in client.completions.create(**kwargs).choices]
    second = [c.text for c in client.completions.create(**kwargs).choices]
    assert first == second
    assert len(set(first)) > 1


def test_echo_logprobs_for_lm_eval_harness(client, tiny_model):
    """The request lm-evaluation-harness's openai-completions backend sends for loglikelihood."""
    prompt_ids = tiny_model.codec.encode("The quick brown fox jumps over")
    r = client.completions.create(model="tiny-gpt2", prompt=prompt_ids, max_tokens=1, temperature=0,
                                  echo=True, logprobs=1)
    lp = r.choices[0].logprobs
    assert len(lp.token_logprobs) == len(prompt_ids) + 1
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    with torch.no_grad():
        ref = tiny_model.backend.model(torch.tensor([prompt_ids])).logits[0].log_softmax(-1)
    expected = ref[torch.arange(len(prompt_ids) - 1), torch.tensor(prompt_ids[1:])]
    np.testing.assert_allclose(lp.token_logprobs[1:len(prompt_ids)], expected.numpy(), atol=1e-4)
    assert r.choices[0].text.startswith(tiny_model.codec.decode(prompt_ids))


def test_embeddings_are_mean_pooled_hidden_states(client, tiny_model):
    texts = ["The quick brown fox", "emoji 🙂"]
    r = client.embeddings.create(model="tiny-gpt2", input=texts)  # the client asks for base64
    got = np.array([d.embedding for d in r.data])
    with torch.no_grad():
        for text, vector in zip(texts, got):
            ids = torch.tensor([tiny_model.codec.encode(text)])
            hidden = tiny_model.backend.model(ids, output_hidden_states=True).hidden_states[-1][0]
            np.testing.assert_allclose(vector, hidden.mean(0).numpy(), atol=1e-5)
    floats = client.embeddings.create(model="tiny-gpt2", input=texts[0], encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, got[0], atol=1e-6)


def test_embeddings_base64_raw(http):
    r = http.post("/v1/embeddings", json={"input": "The", "encoding_format": "base64"}).json()
    vector = np.frombuffer(base64.b64decode(r["data"][0]["embedding"]), dtype="<f4")
    assert vector.shape == (64,)


@pytest.mark.parametrize("kwargs,status,param", [
    (dict(prompt="The", max_tokens=65), 400, "max_tokens"),  # over max_tokens_limit
    (dict(prompt="The " * 200, max_tokens=1), 400, "max_tokens"),  # over the context
    (dict(prompt="The", temperature=3), 400, "temperature"),
    (dict(prompt="The", top_p=1.5), 400, "top_p"),
    (dict(prompt=[], max_tokens=1), 400, "prompt"),
    (dict(prompt=[999999], max_tokens=1), 400, "prompt"),
    (dict(prompt="The", n=100), 400, "n"),
    (dict(prompt="The", logit_bias={"1": 5}), 400, "logit_bias"),
    (dict(prompt="The", model="gpt-4"), 404, "model"),
    (dict(max_tokens=1), 400, "prompt"),  # missing
])
def test_bad_requests_get_openai_errors(http, kwargs, status, param):
    r = http.post("/v1/completions", json={"model": "tiny-gpt2", **kwargs})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["message"]


def test_openai_client_raises_the_right_errors(client, server):
    with pytest.raises(openai.BadRequestError, match="context"):
        client.completions.create(model="tiny-gpt2", prompt="The " * 200, max_tokens=10)
    wrong = openai.OpenAI(base_url=server[0] + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_auth_size_and_json_errors(server, http):
    url = server[0]
    assert httpx.get(url + "/v1/models").status_code == 401
    assert httpx.get(url + "/health").status_code == 200  # health and the playground need no key
    big = http.post("/v1/completions", json={"model": "tiny-gpt2", "prompt": "x" * 30_000})
    assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
    bad = http.post("/v1/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "error" in bad.json()
    missing = http.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_client_disconnect_frees_the_slot(server, http):
    engine = server[1].state.roots.engine
    before = engine.stats["requests_cancelled"]
    body = {"model": "tiny-gpt2", "prompt": "The", "max_tokens": 60, "stream": True, "ignore_eos": True,
            "temperature": 1.0}
    with http.stream("POST", "/v1/completions", json=body) as r:
        next(r.iter_lines())  # one event, then hang up
    deadline = time.monotonic() + 10
    while engine.num_running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.num_running == 0
    assert engine.stats["requests_cancelled"] > before or engine.stats["requests_finished"] > 0


def test_health_metrics_and_playground(server, http):
    assert http.get("/health").json()["status"] == "ok"
    text = http.get("/metrics").text
    assert "# TYPE roots_generation_tokens_total counter" in text
    assert 'roots_http_requests_total{path="/v1/completions",status="200"}' in text
    page = httpx.get(server[0] + "/")
    assert page.status_code == 200 and "roots playground" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no external assets


def test_engine_failure_is_a_500_or_an_sse_error_event(tiny_model):
    with live_server(tiny_model) as (url, app):
        engine = app.state.roots.engine
        forward = engine.backend.forward

        def broken(*args, **kwargs):
            raise RuntimeError("boom")

        engine.backend = type("Broken", (), {"forward": staticmethod(broken), "vocab_size": engine.vocab_size})()
        body = {"model": "tiny-gpt2", "prompt": "The", "max_tokens": 3}
        r = httpx.post(url + "/v1/completions", json=body, timeout=30)
        assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
        with httpx.stream("POST", url + "/v1/completions", json={**body, "stream": True}, timeout=30) as s:
            events = [line for line in s.iter_lines() if line]
        assert "error" in json.loads(events[-2][6:]) and events[-1] == "data: [DONE]"
        engine.backend = type("Fixed", (), {"forward": staticmethod(forward)})()
        assert httpx.post(url + "/v1/completions", json=body, timeout=30).status_code == 200
