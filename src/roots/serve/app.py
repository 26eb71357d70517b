"""The OpenAI-compatible HTTP API over the engine (FastAPI), plus /health, /metrics and the playground.

Each API request becomes one engine request per choice (prompts x n). Outputs arrive on the engine
thread and are handed to the event loop with `call_soon_threadsafe`; streaming responses are Server-Sent
Events ending with `data: [DONE]`. A client that goes away cancels its engine requests, which frees
their rows at the next step. Errors are OpenAI error objects: {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from roots.serve.backend import LoadedModel
from roots.serve.config import ServeConfig
from roots.serve.engine import Engine, Output
from roots.serve.engine import Request as EngineRequest
from roots.serve.sampling import SamplingParams, TokenLogprobs
from roots.serve.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, SamplingFields

STATIC = Path(__file__).parent / "static"


class APIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type


def error_response(status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                   code: str | int | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


class BodyLimit:
    """ASGI middleware: request bodies larger than `max_bytes` get 413, counted as they stream in."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            response = error_response(413, f"request body over the {self.max_bytes}-byte limit",
                                      code="request_too_large")
            return await response(scope, receive, send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, f"request body over the {self.max_bytes}-byte limit")
            return message

        await self.app(scope, counted, send)


@dataclass
class Metrics:
    """Server-side counters for /metrics, next to the engine's own."""

    http_requests: dict[tuple[str, int], int] = field(default_factory=dict)
    ttft_sum: float = 0.0
    ttft_count: int = 0
    itl_sum: float = 0.0
    itl_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str, status: int) -> None:
        with self.lock:
            self.http_requests[(path, status)] = self.http_requests.get((path, status), 0) + 1


class Choices:
    """One API request fanned out to engine requests; gathers their outputs on the event loop."""

    def __init__(self, state: State, jobs: list[tuple[list[int], SamplingParams]]):
        self.state = state
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[int, Output]] = asyncio.Queue()
        self.requests = [EngineRequest(ids, params, self._callback(i)) for i, (ids, params) in enumerate(jobs)]
        self.started = time.perf_counter()
        self._last_token: list[float | None] = [None] * len(jobs)

    def _callback(self, index: int) -> Callable[[Output], None]:
        return lambda out: self.loop.call_soon_threadsafe(self.queue.put_nowait, (index, out))

    def submit(self) -> None:
        try:
            for request in self.requests:
                self.state.engine.submit(request)
        except (ValueError, RuntimeError) as e:
            self.cancel()
            status = 503 if isinstance(e, RuntimeError) else 400
            raise APIError(status, str(e), param="prompt" if status == 400 else None) from e

    def cancel(self) -> None:
        for request in self.requests:
            request.cancel()

    async def outputs(self, disconnected: Callable[[], Awaitable[bool]] | None = None
                      ) -> AsyncIterator[tuple[int, Output]]:
        """(choice index, output) until every choice has finished; cancels them all if the client leaves."""
        pending = len(self.requests)
        checked = time.monotonic()
        try:
            while pending:
                try:
                    index, out = await asyncio.wait_for(self.queue.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    index, out = -1, None
                if disconnected is not None and time.monotonic() - checked > 0.5:
                    checked = time.monotonic()
                    if await disconnected():
                        return
                if out is None:
                    continue
                self._time(index, out)
                if out.finish_reason == "error":
                    raise APIError(500, "generation failed inside the engine (see the server log)",
                                   type="server_error")
                if out.finish_reason == "cancelled":
                    raise APIError(503, "the server is shutting down; retry against another instance",
                                   type="server_error")
                pending -= out.finish_reason is not None
                yield index, out
        finally:
            self.cancel()  # no-op for finished requests; frees the rows of the others

    def _time(self, index: int, out: Output) -> None:
        if not out.token_ids:
            return
        now, metrics = time.perf_counter(), self.state.metrics
        last = self._last_token[index]
        with metrics.lock:
            if last is None:
                metrics.ttft_sum += now - self.started
                metrics.ttft_count += 1
            else:
                metrics.itl_sum += now - last
                metrics.itl_count += 1
        self._last_token[index] = now


@dataclass
class State:
    model: LoadedModel
    engine: Engine
    config: ServeConfig
    metrics: Metrics = field(default_factory=Metrics)
    embed_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.config.served_name or self.model.name


# ---- request -> engine jobs ----

def sampling_params(body: SamplingFields, max_tokens: int, logprobs: int | None, echo: bool) -> SamplingParams:
    try:
        return SamplingParams(
            max_tokens=max_tokens, temperature=1.0 if body.temperature is None else body.temperature,
            top_k=body.top_k or 0, top_p=1.0 if body.top_p is None else body.top_p, min_p=body.min_p or 0.0,
            repetition_penalty=body.repetition_penalty or 1.0, frequency_penalty=body.frequency_penalty or 0.0,
            presence_penalty=body.presence_penalty or 0.0, stop=body.stop_strings(),
            stop_token_ids=tuple(body.stop_token_ids or ()), ignore_eos=body.ignore_eos, seed=body.seed,
            logprobs=logprobs, prompt_logprobs=echo and logprobs is not None)
    except ValueError as e:
        raise APIError(400, str(e)) from e


def check_common(state: State, body: SamplingFields, prompts: list[list[int]], max_tokens: int) -> None:
    if body.model and body.model != state.name:
        raise APIError(404, f"the model {body.model!r} does not exist; this server serves {state.name!r}",
                       param="model", code="model_not_found")
    if body.logit_bias:
        raise APIError(400, "logit_bias is not supported", param="logit_bias")
    if len(prompts) * body.n > state.config.max_choices:
        raise APIError(400, f"prompts x n is {len(prompts) * body.n}; the limit is {state.config.max_choices}",
                       param="n")
    if max_tokens > state.config.max_tokens_limit:
        raise APIError(400, f"max_tokens is {max_tokens}; the limit is {state.config.max_tokens_limit}",
                       param="max_tokens")
    context = state.engine.max_seq_len
    vocab = state.engine.vocab_size
    for ids in prompts:
        if not ids:
            raise APIError(400, "the prompt is empty", param="prompt")
        if max(ids) >= vocab:
            raise APIError(400, f"token id {max(ids)} is outside the vocabulary (size {vocab})", param="prompt")
        if len(ids) + max_tokens > context:
            raise APIError(400, f"this model's context is {context} tokens; the prompt has {len(ids)} and "
                                f"max_tokens asks for {max_tokens} more", param="max_tokens",
                           code="context_length_exceeded")
    for t in body.stop_token_ids or ():
        if t >= vocab:
            raise APIError(400, f"stop token id {t} is outside the vocabulary (size {vocab})",
                           param="stop_token_ids")


def seeded(params: SamplingParams, i: int) -> SamplingParams:
    """The i-th of n choices: a seeded request gets seeds seed, seed + 1, ... so its choices differ."""
    if params.seed is None or i == 0:
        return params
    from dataclasses import replace

    return replace(params, seed=(params.seed + i) % 2**63)


def completion_prompts(state: State, prompt: Any) -> list[list[int]]:
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


# ---- response pieces ----

def completion_logprobs(state: State, entries: list[TokenLogprobs | None], token_ids: list[int],
                        offset: int) -> dict[str, Any]:
    codec = state.model.codec
    tokens = [codec.token_text(t) for t in token_ids]
    offsets = []
    for text in tokens:
        offsets.append(offset)
        offset += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": [e.logprob if e else None for e in entries],
        "top_logprobs": [{codec.token_text(t): lp for t, lp in e.top} if e else None for e in entries],
        "text_offset": offsets,
    }


def chat_logprobs(state: State, entries: list[TokenLogprobs]) -> dict[str, Any]:
    codec = state.model.codec

    def item(token_id: int, logprob: float) -> dict[str, Any]:
        text = codec.token_text(token_id)
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    return {"content": [{**item(e.token_id, e.logprob), "top_logprobs": [item(t, lp) for t, lp in e.top]}
                        for e in entries]}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


# ---- the app ----

def create_app(model: LoadedModel, config: ServeConfig, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app. Starts (and on shutdown drains) its own engine unless one is given."""
    own_engine = engine is None
    engine = engine or Engine(model, config.max_batch_size, config.max_seq_len or None, config.max_prefill_tokens)
    state = State(model, engine, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if own_engine:
            engine.start()
        yield
        if own_engine:
            await asyncio.to_thread(engine.shutdown, config.drain_seconds)

    app = FastAPI(title="roots", description="OpenAI-compatible API over a roots model", lifespan=lifespan)
    app.state.roots = state
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        state.metrics.count(request.url.path if request.url.path in KNOWN_PATHS else "other",
                            response.status_code)
        return response

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError):
        return error_response(e.status, e.message, e.type, e.param, e.code)

    @app.exception_handler(StarletteHTTPException)  # routing errors (404, 405) and ours
    async def http_error(request: Request, e: StarletteHTTPException):
        kind = "authentication_error" if e.status_code == 401 else "invalid_request_error"
        response = error_response(e.status_code, str(e.detail), kind)
        response.headers.update(e.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        return error_response(400, f"{where or 'body'}: {first.get('msg', 'invalid request')}",
                              param=where or None)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        return error_response(500, f"internal error: {type(e).__name__}", "server_error")

    api_key = config.api_key

    async def authorize(request: Request) -> None:
        if not api_key:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong API key (send `Authorization: Bearer KEY`)",
                                headers={"WWW-Authenticate": "Bearer"})

    guarded = [Depends(authorize)]

    @app.get("/health")
    async def health():
        ok = engine.accepting and engine._thread is not None and engine._thread.is_alive()
        body = {"status": "ok" if ok else "unavailable", "running": engine.num_running,
                "waiting": engine.num_waiting}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def playground():
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(render_metrics(state), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", dependencies=guarded)
    async def models():
        return {"object": "list", "data": [{"id": state.name, "object": "model", "created": 0,
                                            "owned_by": "roots", "max_model_len": engine.max_seq_len}]}

    @app.post("/v1/completions", dependencies=guarded)
    async def completions(body: CompletionRequest, request: Request):
        if body.suffix:
            raise APIError(400, "suffix is not supported", param="suffix")
        if body.best_of is not None and body.best_of != body.n:
            raise APIError(400, "best_of other than n is not supported", param="best_of")
        prompts = completion_prompts(state, body.prompt)
        max_tokens = body.max_tokens if "max_tokens" in body.model_fields_set else 16
        max_tokens = min(16, config.max_tokens_limit) if max_tokens is None else max_tokens
        check_common(state, body, prompts, max_tokens)
        params = sampling_params(body, max_tokens, body.logprobs, body.echo)
        jobs = [(ids, seeded(params, j)) for ids in prompts for j in range(body.n)]
        choices = Choices(state, jobs)
        choices.submit()
        rid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": rid, "object": "text_completion", "created": created, "model": state.name}
        codec = state.model.codec
        echo_text = [codec.decode(ids) if body.echo else "" for ids, _ in jobs]
        if body.stream:
            return StreamingResponse(stream_completion(state, choices, body, head, echo_text, jobs),
                                     media_type="text/event-stream")
        texts = [[] for _ in jobs]
        lps: list[list] = [[] for _ in jobs]
        tokens: list[list[int]] = [[] for _ in jobs]
        echo_lps: list[list | None] = [None] * len(jobs)
        finish, completion_tokens = [None] * len(jobs), 0
        async for i, out in choices.outputs(request.is_disconnected):
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
                logprobs = completion_logprobs(state, entries, ids_all, 0 if body.echo else len(echo_text[i]))
            result.append({"index": i, "text": echo_text[i] + "".join(texts[i]), "logprobs": logprobs,
                           "finish_reason": finish[i]})
        return {**head, "choices": result, "usage": usage(sum(len(p) for p in prompts), completion_tokens)}

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        from roots.tokenizer.chat import apply_chat_template

        codec = state.model.codec
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        try:
            text = apply_chat_template(messages, codec.eos_token, codec.bos_token, codec.chat_template,
                                       add_generation_prompt=body.add_generation_prompt)
        except Exception as e:  # template errors come from the model's own Jinja template
            raise APIError(400, f"could not apply the chat template: {e}", param="messages") from e
        ids = codec.encode(text, special=False)
        asked = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
        max_tokens = asked if asked is not None else max(
            0, min(engine.max_seq_len - len(ids), config.max_tokens_limit))
        check_common(state, body, [ids], max_tokens)
        top = (body.top_logprobs or 0) if body.logprobs else None
        params = sampling_params(body, max_tokens, top, echo=False)
        choices = Choices(state, [(ids, seeded(params, j)) for j in range(body.n)])
        choices.submit()
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        head = {"id": rid, "created": created, "model": state.name}
        if body.stream:
            return StreamingResponse(stream_chat(state, choices, body, head, len(ids)),
                                     media_type="text/event-stream")
        texts: list[list[str]] = [[] for _ in range(body.n)]
        lps: list[list] = [[] for _ in range(body.n)]
        finish, completion_tokens = [None] * body.n, 0
        async for i, out in choices.outputs(request.is_disconnected):
            texts[i].append(out.text)
            lps[i].extend(out.logprobs or [])
            if out.finish_reason:
                finish[i], completion_tokens = out.finish_reason, completion_tokens + out.completion_tokens
        result = [{"index": i, "message": {"role": "assistant", "content": "".join(texts[i])},
                   "logprobs": chat_logprobs(state, lps[i]) if body.logprobs else None,
                   "finish_reason": finish[i]} for i in range(body.n)]
        return {**head, "object": "chat.completion", "choices": result,
                "usage": usage(len(ids), completion_tokens)}

    @app.post("/v1/embeddings", dependencies=guarded)
    async def embeddings(body: EmbeddingRequest):
        if body.model and body.model != state.name:
            raise APIError(404, f"the model {body.model!r} does not exist; this server serves {state.name!r}",
                           param="model", code="model_not_found")
        inputs = completion_prompts(state, body.input)
        if len(inputs) > config.max_embedding_inputs:
            raise APIError(400, f"{len(inputs)} inputs; the limit is {config.max_embedding_inputs}", param="input")
        for ids in inputs:
            if not ids or len(ids) > engine.max_seq_len or max(ids) >= engine.vocab_size:
                raise APIError(400, f"every input needs 1 to {engine.max_seq_len} tokens from the vocabulary",
                               param="input")
        vectors = await asyncio.to_thread(embed, state, inputs)
        if body.dimensions is not None:
            if body.dimensions > vectors.shape[1]:
                raise APIError(400, f"dimensions must be <= {vectors.shape[1]}", param="dimensions")
            vectors = torch.nn.functional.normalize(vectors[:, :body.dimensions], dim=-1)
        data = []
        for i, v in enumerate(vectors):
            value = (base64.b64encode(v.numpy().astype("<f4").tobytes()).decode()
                     if body.encoding_format == "base64" else v.tolist())
            data.append({"object": "embedding", "index": i, "embedding": value})
        n_tokens = sum(len(ids) for ids in inputs)
        return {"object": "list", "data": data, "model": state.name,
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}

    return app


KNOWN_PATHS = {"/", "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions",
               "/v1/embeddings"}


def embed(state: State, inputs: list[list[int]], batch_size: int = 16) -> torch.Tensor:
    """Mean-pooled final hidden states, left-padded batches; one embedding batch at a time."""
    out = []
    with state.embed_lock:
        for start in range(0, len(inputs), batch_size):
            chunk = inputs[start:start + batch_size]
            width = max(len(ids) for ids in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, seq in enumerate(chunk):
                ids[i, width - len(seq):] = torch.tensor(seq)
                mask[i, width - len(seq):] = 1
            device = state.engine.device
            out.append(state.model.backend.embed(ids.to(device), mask.to(device)).cpu())
    return torch.cat(out)


async def errors_as_events(outputs: AsyncIterator[tuple[int, Output]]
                           ) -> AsyncIterator[tuple[int, Output | str]]:
    """Pass outputs through; a failure mid-stream becomes one SSE error event (the status is already 200)."""
    try:
        async for item in outputs:
            yield item
    except APIError as e:
        yield -1, sse({"error": {"message": e.message, "type": e.type, "param": e.param, "code": e.code}})


async def stream_completion(state: State, choices: Choices, body: CompletionRequest, head: dict,
                            echo_text: list[str], jobs: list) -> AsyncIterator[str]:
    started = [False] * len(jobs)
    completion_tokens = 0
    async for i, out in errors_as_events(choices.outputs()):
        if isinstance(out, str):
            yield out
            continue
        text = out.text
        logprobs = None
        if jobs[i][1].logprobs is not None:
            entries, ids = list(out.logprobs or []), list(out.token_ids)
            if not started[i] and body.echo:
                entries, ids = [*(out.prompt_logprobs or [None] * len(jobs[i][0])), *entries], jobs[i][0] + ids
            logprobs = completion_logprobs(state, entries, ids, 0)
        if not started[i]:
            text, started[i] = echo_text[i] + text, True
        if out.finish_reason:
            completion_tokens += out.completion_tokens
        if text or out.finish_reason or logprobs:
            choice = {"index": i, "text": text, "logprobs": logprobs, "finish_reason": out.finish_reason}
            yield sse({**head, "choices": [choice]})
    if body.stream_options and body.stream_options.include_usage:
        prompt_tokens = sum(len(ids) for ids, _ in jobs[::body.n])
        yield sse({**head, "choices": [], "usage": usage(prompt_tokens, completion_tokens)})
    yield sse("[DONE]")


async def stream_chat(state: State, choices: Choices, body: ChatCompletionRequest, head: dict,
                      prompt_tokens: int) -> AsyncIterator[str]:
    head = {**head, "object": "chat.completion.chunk"}
    for i in range(body.n):
        delta = {"role": "assistant", "content": ""}
        yield sse({**head, "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}]})
    completion_tokens = 0
    async for i, out in errors_as_events(choices.outputs()):
        if isinstance(out, str):
            yield out
            continue
        if out.finish_reason:
            completion_tokens += out.completion_tokens
        if not (out.text or out.finish_reason or (body.logprobs and out.logprobs)):
            continue
        logprobs = chat_logprobs(state, out.logprobs or []) if body.logprobs else None
        delta = {"content": out.text} if out.text else {}
        yield sse({**head, "choices": [{"index": i, "delta": delta, "logprobs": logprobs,
                                        "finish_reason": out.finish_reason}]})
    if body.stream_options and body.stream_options.include_usage:
        yield sse({**head, "choices": [], "usage": usage(prompt_tokens, completion_tokens)})
    yield sse("[DONE]")


def render_metrics(state: State) -> str:
    """Prometheus text exposition format (version 0.0.4)."""
    engine, m = state.engine, state.metrics
    lines = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    s = engine.stats
    metric("roots_requests_total", "counter", "Engine requests (one per choice) submitted",
           [("", s["requests_total"])])
    metric("roots_requests_cancelled_total", "counter", "Engine requests cancelled (client went away, shutdown)",
           [("", s["requests_cancelled"])])
    metric("roots_prompt_tokens_total", "counter", "Prompt tokens prefilled", [("", s["prompt_tokens_total"])])
    metric("roots_generation_tokens_total", "counter", "Tokens generated", [("", s["generation_tokens_total"])])
    metric("roots_engine_steps_total", "counter", "Engine steps (prefill and/or decode)", [("", s["steps_total"])])
    metric("roots_engine_step_seconds_total", "counter", "Time spent in engine steps",
           [("", round(s["step_seconds_total"], 6))])
    metric("roots_engine_errors_total", "counter", "Engine steps that failed", [("", s["errors_total"])])
    metric("roots_running_requests", "gauge", "Sequences in the running batch", [("", engine.num_running)])
    metric("roots_waiting_requests", "gauge", "Requests waiting for a row", [("", engine.num_waiting)])
    metric("roots_kv_cache_slots", "gauge", "KV cache positions in use (rows x columns)",
           [("", engine.cache_tokens)])
    metric("roots_kv_cache_capacity", "gauge", "KV cache positions allowed (max_batch_size x max_seq_len)",
           [("", engine.max_batch_size * engine.max_seq_len)])
    with m.lock:
        metric("roots_time_to_first_token_seconds", "summary", "Time from request to its first token",
               [("_sum", round(m.ttft_sum, 6)), ("_count", m.ttft_count)])
        metric("roots_inter_token_seconds", "summary", "Time between streamed tokens",
               [("_sum", round(m.itl_sum, 6)), ("_count", m.itl_count)])
        metric("roots_http_requests_total", "counter", "HTTP requests by path and status",
               [(f'{{path="{p}",status="{c}"}}', n) for (p, c), n in sorted(m.http_requests.items())])
    return "\n".join(lines) + "\n"
