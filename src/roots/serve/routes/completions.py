"""POST /v1/completions: text or token-id prompts, n choices each, streamed or whole; echo + logprobs is
how lm-evaluation-harness scores log-likelihoods."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request

from roots.serve.errors import APIError
from roots.serve.fanout import Choices
from roots.serve.routes.common import errors_as_events, event_stream, sse
from roots.serve.sampling import SamplingParams, TokenLogprobs
from roots.serve.schemas import (
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
    Usage,
)
from roots.serve.state import AppState, State
from roots.serve.structured import output_format
from roots.serve.textstream import TextOffsets
from roots.serve.validation import check_common, completion_prompts, sampling_params, seeded

router = APIRouter()
Job = tuple[list[int], SamplingParams]


@router.post("/v1/completions", response_model=CompletionResponse)
async def completions(body: CompletionRequest, request: Request, state: AppState):
    if unsupported := body.unsupported():
        raise APIError(400, f"{unsupported} is not supported by /v1/completions", param=unsupported)
    if body.suffix:
        raise APIError(400, "suffix is not supported", param="suffix")
    fmt = output_format(body.response_format, None, None)
    if body.best_of is not None and body.best_of != body.n:
        raise APIError(400, "best_of other than n is not supported", param="best_of")
    limit = state.config.max_tokens_limit
    prompts = completion_prompts(state, body.prompt)
    max_tokens = body.max_tokens if "max_tokens" in body.model_fields_set else 16
    max_tokens = min(16, limit) if max_tokens is None else max_tokens
    check_common(state, body, prompts, max_tokens)
    params = sampling_params(body, max_tokens, body.logprobs, body.echo)
    jobs = [(ids, seeded(params, j)) for ids in prompts for j in range(body.n)]
    constraints = [state.grammars.constraint(fmt) for _ in jobs] if fmt else None
    choices = Choices(state, jobs, constraints)
    choices.submit()
    head = CompletionResponse(id=f"cmpl-{uuid.uuid4().hex}", created=int(time.time()), model=state.name,
                              choices=[])
    echo_text = [decode_all(state, ids) if body.echo else "" for ids, _ in jobs]
    if body.stream:
        return event_stream(stream_completion(state, choices, body, head, echo_text, jobs, request))
    texts: list[list[str]] = [[] for _ in jobs]
    lps: list[list] = [[] for _ in jobs]
    tokens: list[list[int]] = [[] for _ in jobs]
    echo_lps: list[list | None] = [None] * len(jobs)
    finish, completion_tokens = [None] * len(jobs), 0
    async for i, out in choices.outputs(request):
        texts[i].append(out.text)
        tokens[i].extend(out.token_ids)
        lps[i].extend(out.logprobs or [])
        echo_lps[i] = echo_lps[i] or out.prompt_logprobs
        if out.finish_reason:
            finish[i], completion_tokens = out.finish_reason, completion_tokens + out.completion_tokens
    result = []
    for i, (ids, params) in enumerate(jobs):
        logprobs = None
        if params.logprobs is not None:
            entries, ids_all = lps[i], tokens[i]
            if body.echo:
                entries, ids_all = [*(echo_lps[i] or [None] * len(ids)), *entries], ids + ids_all
            logprobs = completion_logprobs(state, entries, ids_all, text_offsets(state))
        result.append(CompletionChoice(index=i, text=echo_text[i] + "".join(texts[i]), logprobs=logprobs,
                                       finish_reason=finish[i]))
    return head.model_copy(update={"choices": result, "usage": Usage.of(sum(len(p) for p in prompts),
                                                                         completion_tokens)})


def decode_all(state: State, ids: list[int]) -> str:
    """Text of `ids` with the special tokens in it (echo shows the prompt as the model saw it)."""
    return state.model.codec.tokenizer.decode(ids, skip_special_tokens=False)


def text_offsets(state: State) -> TextOffsets:
    return TextOffsets(lambda ids: decode_all(state, ids))


def completion_logprobs(state: State, entries: list[TokenLogprobs | None], token_ids: list[int],
                        offsets: TextOffsets) -> CompletionLogprobs:
    """`offsets` carries the text decoded so far: text_offset counts characters, across stream chunks."""
    codec = state.model.codec
    return CompletionLogprobs(
        tokens=[codec.token_text(t) for t in token_ids], token_logprobs=[e.logprob if e else None for e in entries],
        top_logprobs=[{codec.token_text(t): lp for t, lp in e.top} if e else None for e in entries],
        text_offset=offsets.push(token_ids))


async def stream_completion(state: State, choices: Choices, body: CompletionRequest, head: CompletionResponse,
                            echo_text: list[str], jobs: list[Job], request: Request) -> AsyncIterator[str]:
    started = [False] * len(jobs)
    offsets = [text_offsets(state) for _ in jobs]
    completion_tokens = 0
    async for i, out in errors_as_events(choices.outputs(request)):
        if isinstance(out, str):
            yield out
            continue
        text = out.text
        logprobs = None
        if jobs[i][1].logprobs is not None:
            entries, ids = list(out.logprobs or []), list(out.token_ids)
            if not started[i] and body.echo:
                entries, ids = [*(out.prompt_logprobs or [None] * len(jobs[i][0])), *entries], jobs[i][0] + ids
            logprobs = completion_logprobs(state, entries, ids, offsets[i])
        if not started[i]:
            text, started[i] = echo_text[i] + text, True
        if out.finish_reason:
            completion_tokens += out.completion_tokens
        if text or out.finish_reason or logprobs:
            choice = CompletionChoice(index=i, text=text, logprobs=logprobs, finish_reason=out.finish_reason)
            yield sse(head.model_copy(update={"choices": [choice]}))
    if body.stream_options and body.stream_options.include_usage:
        prompt_tokens = sum(len(ids) for ids, _ in jobs[::body.n])
        yield sse(head.model_copy(update={"usage": Usage.of(prompt_tokens, completion_tokens)}))
    yield sse("[DONE]")
