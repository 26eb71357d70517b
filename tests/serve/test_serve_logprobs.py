"""`logprobs.text_offset` counts characters of the decoded text (multi-byte tokens, stream chunks), echo shows
special tokens, and event streams are not cached."""

import json

import httpx
import pytest
from serve_helpers import live_server

from roots.serve.textstream import TextOffsets

TEXT = "café 日本 🙂:"


@pytest.fixture(scope="module")
def server(tiny_model):
    with live_server(tiny_model) as (url, _app):
        yield url


def reference_offsets(decode, ids):
    """Brute force: the characters of the complete text before each token."""
    return [len(decode(ids[:i]).rstrip("\ufffd")) for i in range(len(ids))]


def test_offsets_match_the_brute_force_reference(tiny_model):
    decode = tiny_model.codec.decode
    for text in (TEXT, "Héllo wörld, naïve café; 東京 and emoji 🙂 test", "plain ascii text"):
        ids = tiny_model.codec.encode(text)
        offsets = TextOffsets(decode)
        got = offsets.push(ids[:3]) + offsets.push(ids[3:])  # in two pieces, as stream chunks come
        assert got == reference_offsets(decode, ids)
    ids = tiny_model.codec.encode(TEXT)
    assert any(len(tiny_model.codec.decode([t])) == 1 and tiny_model.codec.decode([t]) == "\ufffd" for t in ids)
    assert TextOffsets(decode).push(ids)[-1] == 9  # ":" follows the 9 characters "café 日本 🙂"


def test_echo_offsets_are_characters(server, tiny_model):
    ids = tiny_model.codec.encode(TEXT)
    r = httpx.post(server + "/v1/completions", timeout=60, json={
        "prompt": TEXT, "max_tokens": 0, "echo": True, "logprobs": 0}).json()["choices"][0]
    assert r["text"] == TEXT
    assert r["logprobs"]["text_offset"] == reference_offsets(tiny_model.codec.decode, ids)
    assert r["logprobs"]["text_offset"][-1] == 9


def test_stream_offsets_keep_counting_across_chunks(server):
    body = {"prompt": TEXT, "max_tokens": 12, "temperature": 0, "ignore_eos": True, "echo": True, "logprobs": 1}
    whole = httpx.post(server + "/v1/completions", json=body, timeout=60).json()["choices"][0]
    offsets = []
    with httpx.stream("POST", server + "/v1/completions", json={**body, "stream": True}, timeout=60) as r:
        assert r.headers["cache-control"] == "no-cache"
        for line in r.iter_lines():
            if line.startswith("data: {"):
                choice = json.loads(line[6:])["choices"][0]
                offsets += (choice["logprobs"] or {}).get("text_offset", [])
    assert offsets == whole["logprobs"]["text_offset"]
    assert offsets == sorted(offsets) and offsets[-1] > 9


def test_echo_keeps_special_tokens(server, tiny_model):
    prompt = "<|endoftext|>The quick"
    r = httpx.post(server + "/v1/completions", timeout=60, json={
        "prompt": prompt, "max_tokens": 0, "echo": True, "logprobs": 0}).json()["choices"][0]
    assert r["text"] == prompt
    assert r["logprobs"]["tokens"][0] == "<|endoftext|>" and r["logprobs"]["text_offset"][1] == len("<|endoftext|>")
