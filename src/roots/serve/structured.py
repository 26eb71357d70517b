"""Structured output by constrained decoding: `response_format` (json_object, json_schema) and `tools` with
`tool_choice` (auto, required, a named function).

A request's format becomes a grammar; at every step the engine masks the tokens the grammar does not allow
(`GrammarConstraint.allowed`) before sampling, so the output always parses. The grammar engine is
llguidance (the one behind Guidance, also a vLLM backend): a JSON schema or Lark grammar becomes a matcher
in about a millisecond (masks are computed lazily by an Earley parser over the token trie) and it reads a
`tokenizers` JSON directly. Measured on this 2-core CPU (13k-token byte-level BPE, a 4-field JSON schema):
llguidance 1 ms to compile, 0.4-1 ms a token for the mask; xgrammar 20-40 ms to compile (it precomputes per
schema), 0.05 ms a token. Request schemas are mostly one-off and outputs short (tool calls, small objects),
and a CPU decode step costs tens of ms, so the compile time, which lands on the time to first token,
decides: llguidance. A server with long outputs against a few fixed schemas would favour xgrammar.

Tool calls are generated as one JSON object `{"name": ..., "arguments": {...}}` whose arguments follow the
function's parameter schema, and returned in OpenAI's `tool_calls` shape. With `tool_choice="auto"` the model
may answer in text instead (anything that does not start with "{").
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import torch

from roots.common.errors import missing_extra
from roots.serve.errors import APIError

# compact one-line JSON: a model cannot wander into endless whitespace, and the output reads like json.dumps
JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


class GrammarConstraint:
    """One request's grammar state (an llguidance matcher), advanced token by token on the engine thread."""

    def __init__(self, matcher: Any):
        self.matcher = matcher

    def allowed(self, vocab_size: int) -> torch.Tensor:
        if self.matcher.is_error():
            raise RuntimeError(f"grammar matcher failed: {self.matcher.get_error()}")
        words = torch.frombuffer(bytearray(self.matcher.compute_bitmask()), dtype=torch.int32)  # (V / 32,)
        bits = (words[:, None] >> torch.arange(32, dtype=torch.int32)) & 1  # (V / 32, 32)
        allowed = bits.bool().flatten()
        if allowed.numel() < vocab_size:  # model rows past the tokenizer's vocabulary are never allowed
            allowed = torch.cat([allowed, allowed.new_zeros(vocab_size - allowed.numel())])
        return allowed[:vocab_size]

    def accept(self, token: int) -> None:
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"grammar refused token {token}: {self.matcher.get_error()}")

    @property
    def done(self) -> bool:
        return self.matcher.is_stopped()


@dataclass
class OutputFormat:
    """What a chat request asks its output to be: a grammar, and how to read the text back."""

    grammar: str
    param: str  # the request field the grammar came from (named in errors)
    tools: dict[str, dict] | None = None  # name -> function, when tools are in play
    tool_mode: str = ""  # "auto" | "required" | the one function's name


class Grammars:
    """Compiles grammars against the served tokenizer (built once, on first use)."""

    def __init__(self, tokenizer_json: str, vocab_size: int, eos_ids: tuple[int, ...]):
        self.tokenizer_json, self.vocab_size, self.eos_ids = tokenizer_json, vocab_size, eos_ids
        self._tokenizer = None
        self._lock = threading.Lock()

    def _ll_tokenizer(self):
        try:
            import llguidance
        except ImportError as e:
            raise missing_extra("llguidance", "serve") from e
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = llguidance.LLTokenizer(self.tokenizer_json, n_vocab=self.vocab_size,
                                                         eos_token=list(self.eos_ids))
        return self._tokenizer

    def constraint(self, fmt: OutputFormat) -> GrammarConstraint:
        if not self.eos_ids:
            raise APIError(400, "this model has no end-of-sequence token, so its output cannot be constrained",
                           param=fmt.param)
        from llguidance import LLMatcher

        matcher = LLMatcher(self._ll_tokenizer(), fmt.grammar, log_level=0)
        if matcher.is_error():
            raise APIError(400, f"{fmt.param}: the schema or grammar is not usable: {matcher.get_error()}",
                           param=fmt.param)
        return GrammarConstraint(matcher)


def json_grammar(schema: dict[str, Any], param: str) -> str:
    from llguidance import LLMatcher

    try:
        return LLMatcher.grammar_from_json_schema(schema, defaults=JSON_STYLE)
    except (ValueError, TypeError) as e:
        raise APIError(400, f"{param}: not a usable JSON schema: {e}", param=param) from e


def output_format(response_format: Any, tools: list[Any] | None, tool_choice: Any) -> OutputFormat | None:
    """The grammar a chat request asks for, or None for free text. Unsupported combinations are a 400."""
    if tools and tool_choice != "none":
        if response_format is not None and response_format.type != "text":
            raise APIError(400, "response_format cannot be combined with tools", param="response_format")
        return tool_format(tools, tool_choice)
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return OutputFormat(json_grammar({"type": "object"}, "response_format"), "response_format")
    schema = response_format.json_schema
    if schema is None or schema.schema_ is None:
        raise APIError(400, "response_format.json_schema.schema is required", param="response_format")
    return OutputFormat(json_grammar(schema.schema_, "response_format"), "response_format")


def call_schema(function: Any) -> dict[str, Any]:
    parameters = function.parameters or {"type": "object", "properties": {}}
    return {"type": "object", "properties": {"name": {"const": function.name}, "arguments": parameters},
            "required": ["name", "arguments"], "additionalProperties": False}


def tool_format(tools: list[Any], tool_choice: Any) -> OutputFormat:
    functions = {t.function.name: t.function for t in tools}
    if tool_choice is None or tool_choice == "auto":
        mode = "auto"
    elif tool_choice == "required":
        mode = "required"
    else:  # {"type": "function", "function": {"name": ...}}
        mode = tool_choice.function.name
        if mode not in functions:
            raise APIError(400, f"tool_choice names {mode!r}, which is not among the tools", param="tool_choice")
    chosen = [functions[mode]] if mode in functions else list(functions.values())
    schemas = [call_schema(f) for f in chosen]
    call = json_grammar(schemas[0] if len(schemas) == 1 else {"anyOf": schemas}, "tools")
    if mode != "auto":
        return OutputFormat(call, "tools", functions, mode)
    from llguidance import LLMatcher

    lark = (f"start: call | text\ncall: %json {json.dumps(schemas[0] if len(schemas) == 1 else {'anyOf': schemas})}"
            "\ntext: /[^{][\\s\\S]*/\n")  # text: anything that does not start like a call
    return OutputFormat(LLMatcher.grammar_from_lark(lark), "tools", functions, mode)


def tool_calls(text: str, fmt: OutputFormat) -> list[dict[str, Any]] | None:
    """The OpenAI `tool_calls` a finished output holds, or None when it is a text answer."""
    if fmt.tools is None or not text.lstrip().startswith("{"):
        return None
    try:
        call = json.loads(text)
    except json.JSONDecodeError:
        return None  # cut off by max_tokens: returned as text, finish_reason "length"
    if not isinstance(call, dict) or call.get("name") not in fmt.tools:
        return None
    arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": call["name"], "arguments": arguments}}]
