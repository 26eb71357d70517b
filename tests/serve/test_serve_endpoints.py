"""Endpoints clients call besides generation: GET /v1/models/{id} and vLLM's tokenizer endpoints (which
lm-evaluation-harness uses as its tokenizer, so it needs no local copy of the model's)."""

import httpx
import openai
import pytest
from serve_helpers import live_server

KEY = "k"


@pytest.fixture(scope="module")
def server(tiny_model):
    with live_server(tiny_model, api_key=KEY) as (url, _app):
        yield url


def auth():
    return {"Authorization": f"Bearer {KEY}"}


def test_models_retrieve(server):
    client = openai.OpenAI(base_url=server + "/v1", api_key=KEY, max_retries=0)
    model = client.models.retrieve("tiny-gpt2")
    assert model.id == "tiny-gpt2" and model.owned_by == "roots"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_tokenize_detokenize_round_trip(server, tiny_model):
    text = "Héllo wörld, 東京 🙂"
    r = httpx.post(server + "/tokenize", json={"prompt": text, "add_special_tokens": False,
                                               "return_token_strs": True}, headers=auth()).json()
    assert r["tokens"] == tiny_model.codec.encode(text) and r["count"] == len(r["tokens"])
    assert r["max_model_len"] == 128 and len(r["token_strs"]) == r["count"]
    back = httpx.post(server + "/detokenize", json={"tokens": r["tokens"]}, headers=auth()).json()
    assert back["prompt"] == text
    chat = httpx.post(server + "/tokenize", json={"messages": [{"role": "user", "content": "Hi"}]},
                      headers=auth()).json()
    assert chat["count"] > 3
    assert httpx.post(server + "/tokenize", json={"prompt": "x"}).status_code == 401
    bad = httpx.post(server + "/detokenize", json={"tokens": [10**6]}, headers=auth())
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tokens"


def test_tokenizer_info(server):
    info = httpx.get(server + "/tokenizer_info", headers=auth()).json()
    assert info["eos_token"] == "<|endoftext|>" and info["chat_template"]


def test_lm_eval_detects_and_uses_the_remote_tokenizer(server, tiny_model):
    lm_utils = pytest.importorskip("lm_eval.utils", reason="lm-eval is not installed (pip install roots[eval])")
    assert lm_utils.check_remote_tokenizer_support(server + "/v1/completions", auth_token=KEY)
    remote = lm_utils.RemoteTokenizer(server + "/v1/completions", auth_token=KEY)
    assert remote.encode("The quick brown") == tiny_model.codec.encode("The quick brown")
    assert remote.eos_token_id == tiny_model.codec.eos_token_ids[0]
    assert remote.decode(remote.encode("東京 🙂")) == "東京 🙂"
