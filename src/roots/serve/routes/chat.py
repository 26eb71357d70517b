"""POST /v1/chat/completions: messages through the model's chat template, n choices, streamed or whole."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request

from roots.serve.errors import APIError
from roots.serve.fanout import Choices
from roots.serve.routes.common import errors_as_events, event_stream, sse
from roots.serve.sampling import TokenLogprobs
from roots.serve.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatChoiceLogprobs,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatLogprobItem,
    ChatMessage,
    ChatStreamChoice,
    ChatTokenLogprob,
    DeltaMessage,
    DeltaToolCall,
    Usage,
)
from roots.serve.state import AppState, State
from roots.serve.structured import OutputFormat, output_format, tool_calls
from roots.serve.validation import check_common, sampling_params, seeded

router = APIRouter()


def render_chat(state: State, messages: list[ChatMessage], add_generation_prompt: bool) -> str:
    """The prompt text the model's chat template makes of `messages`."""
    from roots.tokenizer.chat import apply_chat_template

    codec = state.model.codec
    plain = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in messages]
    try:
        return apply_chat_template(plain, codec.eos_token, codec.bos_token, codec.chat_template,
                                   add_generation_prompt=add_generation_prompt)
    except Exception as e:  # template errors come from the model's own Jinja template
        raise APIError(400, f"could not apply the chat template: {e}", param="messages") from e


def chat_prompt(state: State, body: ChatCompletionRequest) -> list[int]:
    return state.model.codec.encode(render_chat(state, body.messages, body.add_generation_prompt), special=False)


@router.post("/v1/chat/completions", response_model=ChatCompletionResponse)
async def chat_completions(body: ChatCompletionRequest, request: Request, state: AppState):
    engine, limit = state.engine, state.config.max_tokens_limit
    if unsupported := body.unsupported():
        raise APIError(400, f"{unsupported} is not supported by this server", param=unsupported)
    fmt = output_format(body.response_format, body.tools, body.tool_choice)
    ids = chat_prompt(state, body)
    asked = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    max_tokens = asked if asked is not None else max(0, min(engine.max_seq_len - len(ids), limit))
    check_common(state, body, [ids], max_tokens)
    top = (body.top_logprobs or 0) if body.logprobs else None
    params = sampling_params(body, max_tokens, top, echo=False)
    constraints = [state.grammars.constraint(fmt) for _ in range(body.n)] if fmt else None
    choices = Choices(state, [(ids, seeded(params, j)) for j in range(body.n)], constraints)
    choices.submit()
    rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        head = ChatCompletionChunk(id=rid, created=created, model=state.name, choices=[])
        return event_stream(stream_chat(state, choices, body, head, len(ids), request, fmt))
    texts: list[list[str]] = [[] for _ in range(body.n)]
    lps: list[list] = [[] for _ in range(body.n)]
    finish, completion_tokens = [None] * body.n, 0
    async for i, out in choices.outputs(request):
        texts[i].append(out.text)
        lps[i].extend(out.logprobs or [])
        if out.finish_reason:
            finish[i], completion_tokens = out.finish_reason, completion_tokens + out.completion_tokens
    result = []
    for i in range(body.n):
        message, reason = assistant_message("".join(texts[i]), finish[i], fmt)
        result.append(ChatChoice(index=i, message=message, finish_reason=reason,
                                 logprobs=chat_logprobs(state, lps[i]) if body.logprobs else None))
    return ChatCompletionResponse(id=rid, created=created, model=state.name, choices=result,
                                  usage=Usage.of(len(ids), completion_tokens))


def assistant_message(text: str, finish: str | None, fmt: OutputFormat | None
                      ) -> tuple[AssistantMessage, str | None]:
    """The message and finish_reason of a finished choice: tool calls when the text is one."""
    calls = tool_calls(text, fmt) if fmt is not None and finish == "stop" else None
    if calls:
        return AssistantMessage(content=None, tool_calls=calls), "tool_calls"
    return AssistantMessage(content=text), finish


def chat_logprobs(state: State, entries: list[TokenLogprobs]) -> ChatChoiceLogprobs:
    codec = state.model.codec

    def item(token_id: int, logprob: float) -> ChatTokenLogprob:
        text = codec.token_text(token_id)
        return ChatTokenLogprob(token=text, logprob=logprob, bytes=list(text.encode("utf-8")))

    return ChatChoiceLogprobs(content=[ChatLogprobItem(**item(e.token_id, e.logprob).model_dump(),
                                                       top_logprobs=[item(t, lp) for t, lp in e.top])
                                       for e in entries])


async def stream_chat(state: State, choices: Choices, body: ChatCompletionRequest, head: ChatCompletionChunk,
                      prompt_tokens: int, request: Request, fmt: OutputFormat | None) -> AsyncIterator[str]:
    """Deltas as they come; with tools, a choice's text is held until it ends and can be read as a call."""
    held = [""] * body.n if fmt is not None and fmt.tools is not None else None
    def chunk(choice: ChatStreamChoice) -> str:
        return sse(head.model_copy(update={"choices": [choice]}))

    for i in range(body.n):
        yield chunk(ChatStreamChoice(index=i, delta=DeltaMessage(role="assistant", content="")))
    completion_tokens = 0
    async for i, out in errors_as_events(choices.outputs(request)):
        if isinstance(out, str):
            yield out
            continue
        if out.finish_reason:
            completion_tokens += out.completion_tokens
        logprobs = chat_logprobs(state, out.logprobs or []) if body.logprobs and out.logprobs else None
        if held is not None:
            held[i] += out.text
            if out.finish_reason is None:
                if logprobs:
                    yield chunk(ChatStreamChoice(index=i, delta=DeltaMessage(), logprobs=logprobs))
                continue
            message, reason = assistant_message(held[i], out.finish_reason, fmt)
            calls = [DeltaToolCall(index=k, **c.model_dump()) for k, c in enumerate(message.tool_calls or [])]
            delta = DeltaMessage(content=message.content or None, tool_calls=calls or None)
            yield chunk(ChatStreamChoice(index=i, delta=delta, logprobs=logprobs, finish_reason=reason))
            continue
        if not (out.text or out.finish_reason or logprobs):
            continue
        yield chunk(ChatStreamChoice(index=i, delta=DeltaMessage(content=out.text or None), logprobs=logprobs,
                                     finish_reason=out.finish_reason))
    if body.stream_options and body.stream_options.include_usage:
        yield sse(head.model_copy(update={"usage": Usage.of(prompt_tokens, completion_tokens)}))
    yield sse("[DONE]")
