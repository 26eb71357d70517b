"""API request -> engine jobs: prompts to token ids, sampling fields to `SamplingParams`, and the limits
checked before anything reaches the engine (every bad field is a 400 naming it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from roots.serve.errors import APIError
from roots.serve.sampling import SamplingParams
from roots.serve.schemas import SamplingFields
from roots.serve.state import State


def check_model(state: State, model: str | None) -> None:
    if model and model != state.name:
        raise APIError(404, f"the model {model!r} does not exist; this server serves {state.name!r}",
                       param="model", code="model_not_found")


def sampling_params(body: SamplingFields, max_tokens: int, logprobs: int | None, echo: bool) -> SamplingParams:
    temperature = 1.0 if body.temperature is None else body.temperature
    top_p = 1.0 if body.top_p is None else body.top_p
    if top_p == 0:  # OpenAI reads top_p=0 as "only the most likely token": greedy
        temperature, top_p = 0.0, 1.0
    try:
        return SamplingParams(
            max_tokens=max_tokens, temperature=temperature,
            top_k=body.top_k or 0, top_p=top_p, min_p=body.min_p or 0.0,
            repetition_penalty=body.repetition_penalty or 1.0, frequency_penalty=body.frequency_penalty or 0.0,
            presence_penalty=body.presence_penalty or 0.0, stop=body.stop_strings(),
            stop_token_ids=tuple(body.stop_token_ids or ()), ignore_eos=body.ignore_eos, seed=body.seed,
            logprobs=logprobs, prompt_logprobs=echo and logprobs is not None)
    except ValueError as e:
        raise APIError(400, str(e)) from e


def check_common(state: State, body: SamplingFields, prompts: list[list[int]], max_tokens: int) -> None:
    config, engine = state.config, state.engine
    check_model(state, body.model)
    if body.logit_bias:
        raise APIError(400, "logit_bias is not supported", param="logit_bias")
    if len(prompts) * body.n > config.max_choices:
        raise APIError(400, f"prompts x n is {len(prompts) * body.n}; the limit is {config.max_choices}",
                       param="n")
    if max_tokens > config.max_tokens_limit:
        raise APIError(400, f"max_tokens is {max_tokens}; the limit is {config.max_tokens_limit}",
                       param="max_tokens")
    context, vocab = engine.max_seq_len, engine.vocab_size
    for ids in prompts:
        if not ids:
            raise APIError(400, "the prompt is empty", param="prompt")
        if max(ids) >= vocab:
            raise APIError(400, f"token id {max(ids)} is outside the vocabulary (size {vocab})", param="prompt")
        if len(ids) + max_tokens > context:
            raise APIError(400, f"this model's context is {context} tokens; the prompt has {len(ids)} and "
                                f"max_tokens asks for {max_tokens} more", param="max_tokens",
                           code="context_length_exceeded")
    if body.top_k is not None and body.top_k > vocab:
        raise APIError(400, f"top_k is {body.top_k}; it must be <= the vocabulary size {vocab} (0 = off)",
                       param="top_k")
    for t in body.stop_token_ids or ():
        if t >= vocab:
            raise APIError(400, f"stop token id {t} is outside the vocabulary (size {vocab})",
                           param="stop_token_ids")


def seeded(params: SamplingParams, i: int) -> SamplingParams:
    """The i-th of n choices: a seeded request gets seeds seed, seed + 1, ... so its choices differ."""
    if params.seed is None or i == 0:
        return params
    return replace(params, seed=(params.seed + i) % 2**63)


def completion_prompts(state: State, prompt: Any) -> list[list[int]]:
    """A completion (or embedding) `prompt`/`input`: text, texts, token ids or lists of token ids."""
    codec = state.model.codec
    if isinstance(prompt, str):
        return [codec.encode(prompt, special=True)]
    if not prompt:
        raise APIError(400, "the prompt is empty", param="prompt")
    if isinstance(prompt[0], int):
        return [list(prompt)]
    if isinstance(prompt[0], str):
        return [codec.encode(p, special=True) for p in prompt]
    return [list(p) for p in prompt]
