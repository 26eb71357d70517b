"""`roots serve` driven by the clients people use: the openai SDK, langchain-openai's ChatOpenAI, and
lm-evaluation-harness's `local-completions` / `local-chat-completions` (compared with its `hf` backend on the
same Hugging Face directory)."""

import json
import logging
import shutil
from typing import Literal

import openai
import pytest
from pydantic import BaseModel, Field
from serve_helpers import live_server

from roots.tokenizer.chat import DEFAULT_CHAT_TEMPLATE


@pytest.fixture(scope="module")
def chat_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with a chat template in tokenizer_config.json, so HF and the server render chats alike."""
    out = tmp_path_factory.mktemp("chat") / "tiny-chat"
    shutil.copytree(tiny_model_dir, out)
    config = json.loads((out / "tokenizer_config.json").read_text())
    (out / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": DEFAULT_CHAT_TEMPLATE}))
    return out


@pytest.fixture(scope="module")
def server(chat_model_dir):
    from roots.serve.backend import load_served_model

    with live_server(load_served_model(chat_model_dir), api_key="key", max_tokens_limit=100) as (url, _app):
        yield url


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="key", max_retries=0, timeout=60)


class Pet(BaseModel):
    name: str = Field(max_length=6)
    kind: Literal["cat", "dog"]


def test_openai_client(client):
    assert client.models.retrieve("tiny-chat").id == "tiny-chat"
    parsed = client.chat.completions.parse(model="tiny-chat", messages=[{"role": "user", "content": "A pet?"}],
                                           response_format=Pet, max_tokens=60, seed=3)
    assert isinstance(parsed.choices[0].message.parsed, Pet)
    kwargs = dict(model="tiny-chat", messages=[{"role": "user", "content": "Hello"}], max_tokens=12, temperature=0)
    whole = client.chat.completions.create(**kwargs).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kwargs)
                       if c.choices)
    assert streamed == whole
    tool = {"type": "function", "function": {"name": "pick", "parameters": {
        "type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}}, "required": ["kind"],
        "additionalProperties": False}}}
    r = client.chat.completions.create(model="tiny-chat", messages=[{"role": "user", "content": "Pick"}],
                                       tools=[tool], tool_choice="required", max_tokens=40, seed=1)
    assert json.loads(r.choices[0].message.tool_calls[0].function.arguments)["kind"] in ("cat", "dog")


def test_langchain_chat_openai(server):
    langchain_openai = pytest.importorskip("langchain_openai", reason="pip install langchain-openai")
    llm = langchain_openai.ChatOpenAI(model="tiny-chat", base_url=server + "/v1", api_key="key", temperature=0,
                                      max_tokens=12, max_retries=0)
    answer = llm.invoke("Hello")
    assert isinstance(answer.content, str) and answer.response_metadata["finish_reason"] in ("stop", "length")
    assert "".join(chunk.content for chunk in llm.stream("Hello")) == answer.content
    structured = llm.with_structured_output(Pet, method="json_schema")
    assert isinstance(structured.invoke("A pet?", max_tokens=60), Pet)
    call = llm.bind_tools([Pet], tool_choice="Pet").invoke("A pet?", max_tokens=60)
    assert call.tool_calls[0]["name"] == "Pet" and call.tool_calls[0]["args"]["kind"] in ("cat", "dog")


# ---- lm-evaluation-harness ----

MC_DOCS = [{"question": "The quick brown", "choices": [" fox", " dog", " cat"], "answer": 0},
           {"question": "A language model predicts the", "choices": [" next token", " weather"], "answer": 0},
           {"question": "Héllo wörld, naïve", "choices": [" café", " 東京", " emoji 🙂"], "answer": 2},
           {"question": "Continuous batching lets", "choices": [" new requests", " nothing"], "answer": 1}]
GEN_DOCS = [{"question": "The quick brown fox", "answer": "jumps"}, {"question": "Continuous", "answer": "batching"}]


def task_configs(tmp_path):
    for name, docs in (("mc", MC_DOCS), ("gen", GEN_DOCS)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs),
                                                encoding="utf-8")
    common = {"dataset_path": "json", "test_split": "test", "doc_to_text": "{{question}}"}
    mc = {**common, "task": "roots_tiny_mc", "dataset_kwargs": {"data_files": {"test": str(tmp_path / "mc.jsonl")}},
          "output_type": "multiple_choice", "doc_to_choice": "{{choices}}", "doc_to_target": "{{answer}}",
          "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
    gen = {**common, "task": "roots_tiny_gen", "dataset_kwargs": {"data_files": {"test": str(tmp_path / "gen.jsonl")}},
           "output_type": "generate_until", "doc_to_target": "{{answer}}",
           "generation_kwargs": {"until": ["\n"], "max_gen_toks": 8, "do_sample": False, "temperature": 0},
           "metric_list": [{"metric": "exact_match"}]}
    return mc, gen


def run_lm_eval(model, model_args, task, **kwargs):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    out = simple_evaluate(model=model, model_args=model_args, tasks=[task], log_samples=True,
                          task_manager=TaskManager(include_defaults=False), bootstrap_iters=0, **kwargs)
    samples = sorted(out["samples"][task["task"]], key=lambda s: s["doc_id"])
    return out["results"][task["task"]], samples


def test_lm_eval_local_completions_and_chat_equal_the_hf_backend(server, chat_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("lm_eval", reason="lm-eval is not installed (pip install roots[eval])")
    monkeypatch.setenv("OPENAI_API_KEY", "key")  # lm-eval sends it as the bearer token
    mc, gen = task_configs(tmp_path)
    hf_args = f"pretrained={chat_model_dir},dtype=float32,device=cpu"
    # tokenizer_backend=remote is what lm-eval picks itself after probing /tokenizer_info
    served = (f"model=tiny-chat,base_url={server}/v1/completions,num_concurrent=2,max_retries=1,"
              f"max_length=128,auth_token=key")

    hf_mc, hf_mc_samples = run_lm_eval("hf", hf_args, mc)
    api_mc, api_mc_samples = run_lm_eval("local-completions", served, mc)
    assert len(api_mc_samples) == len(hf_mc_samples) == len(MC_DOCS)
    assert api_mc["acc,none"] == hf_mc["acc,none"] and api_mc["acc_norm,none"] == hf_mc["acc_norm,none"]
    for ours, theirs in zip(api_mc_samples, hf_mc_samples):
        for (ll, greedy), (ref_ll, ref_greedy) in zip(
                [r[0] for r in ours["resps"]], [r[0] for r in theirs["resps"]]):
            assert ll == pytest.approx(ref_ll, rel=1e-4, abs=1e-4) and greedy == ref_greedy

    hf_gen, hf_gen_samples = run_lm_eval("hf", hf_args, gen, apply_chat_template=True)
    chat = f"model=tiny-chat,base_url={server}/v1/chat/completions,max_retries=1,auth_token=key"
    api_gen, api_gen_samples = run_lm_eval("local-chat-completions", chat, gen, apply_chat_template=True)
    assert len(api_gen_samples) == len(GEN_DOCS)
    assert [s["resps"] for s in api_gen_samples] == [s["resps"] for s in hf_gen_samples]
    assert api_gen["exact_match,none"] == hf_gen["exact_match,none"]
