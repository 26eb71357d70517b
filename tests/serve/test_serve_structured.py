"""Structured output: response_format and tools are enforced by constrained decoding, even on a random model;
what cannot be honoured is a 400 naming the field."""

import json

import httpx
import jsonschema
import openai
import pytest
from serve_helpers import live_server

pytest.importorskip("llguidance", reason="llguidance is not installed (pip install roots[serve])")

SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                           "pet": {"enum": ["cat", "dog"]}},
          "required": ["name", "age", "pet"], "additionalProperties": False}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                                                    "unit": {"enum": ["C", "F"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}},
                                       "required": ["zone"], "additionalProperties": False}}}
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def server(tiny_model):
    with live_server(tiny_model, max_tokens_limit=100) as (url, _app):
        yield url


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="none", max_retries=0, timeout=60)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_output_always_validates(client, seed):
    r = client.chat.completions.create(
        model="tiny-gpt2", messages=MESSAGES, max_tokens=80, seed=seed, temperature=1.0,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}})
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    jsonschema.validate(json.loads(choice.message.content), SCHEMA)


def test_json_object_output_parses(client):
    r = client.chat.completions.create(model="tiny-gpt2", messages=MESSAGES, max_tokens=60, seed=4,
                                       response_format={"type": "json_object"}, n=2)
    for choice in r.choices:
        if choice.finish_reason == "stop":
            assert isinstance(json.loads(choice.message.content), dict)
        else:  # a random model may fill all 60 tokens with one long string; still a JSON prefix
            assert choice.message.content.startswith("{")


@pytest.mark.parametrize("tool_choice,names", [
    ("required", {"get_weather", "get_time"}),
    ({"type": "function", "function": {"name": "get_time"}}, {"get_time"}),
])
def test_tool_calls_are_openai_shaped(client, tool_choice, names):
    r = client.chat.completions.create(model="tiny-gpt2", messages=MESSAGES, max_tokens=60, seed=7,
                                       tools=[WEATHER, TIME], tool_choice=tool_choice)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_") and call.function.name in names
    tool = {"get_weather": WEATHER, "get_time": TIME}[call.function.name]
    jsonschema.validate(json.loads(call.function.arguments), tool["function"]["parameters"])


def test_tool_calls_stream(client):
    stream = client.chat.completions.create(model="tiny-gpt2", messages=MESSAGES, max_tokens=80, seed=7,
                                            tools=[TIME], tool_choice="required", stream=True)
    chunks = list(stream)
    calls = [c for chunk in chunks for choice in chunk.choices for c in (choice.delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].function.name == "get_time"
    json.loads(calls[0].function.arguments)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_auto_gives_text_or_a_call(client):
    for seed in range(3):
        r = client.chat.completions.create(model="tiny-gpt2", messages=MESSAGES, max_tokens=40, seed=seed,
                                           tools=[WEATHER], tool_choice="auto")
        message = r.choices[0].message
        if message.tool_calls:
            assert r.choices[0].finish_reason == "tool_calls"
            assert message.tool_calls[0].function.name == "get_weather"
        else:
            assert not message.content.startswith("{")


def test_a_conversation_with_tool_results(client):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
    messages = [{"role": "user", "content": "Rome?"}, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "21"}]
    r = client.chat.completions.create(model="tiny-gpt2", messages=messages, max_tokens=5, tools=[WEATHER])
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")


@pytest.mark.parametrize("extra,param", [
    ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "bogus"}}}},
     "response_format"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "response_format"),
    ({"response_format": {"type": "yaml"}}, "response_format"),
])
def test_what_cannot_be_honoured_is_a_400(server, extra, param):
    r = httpx.post(server + "/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 5, **extra},
                   timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_completions_take_response_format_too(server):
    r = httpx.post(server + "/v1/completions", timeout=60, json={
        "prompt": "A person:", "max_tokens": 80, "seed": 5,
        "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMA}}}).json()
    jsonschema.validate(json.loads(r["choices"][0]["text"]), SCHEMA)
    bad = httpx.post(server + "/v1/completions", json={"prompt": "x", "tools": [WEATHER]}, timeout=60)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "tools"
    bad = httpx.post(server + "/v1/chat/completions", timeout=60,
                     json={"messages": MESSAGES, "guided_json": {"type": "object"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "guided_json"
