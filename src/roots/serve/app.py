"""The OpenAI-compatible HTTP API over the engine (FastAPI): the app factory.

Laid out as vLLM's OpenAI entrypoint is: `errors` (OpenAI error objects), `metrics` (Prometheus text),
`middleware` (request counting, Host check, API key, body limit: pure ASGI, before any body is parsed),
`fanout` (one API request -> engine requests, cancelled together when the client leaves), `validation`
(request -> engine jobs) and one router per API family under `routes/`, with pydantic response models in
`schemas`.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from roots.serve.backend import LoadedModel
from roots.serve.config import ServeConfig
from roots.serve.engine import Engine
from roots.serve.errors import install_error_handlers
from roots.serve.middleware import APIKeyAuth, BodyLimit, HostCheck, RequestCounter
from roots.serve.routes import chat, completions, embeddings, models, ops, tokenize
from roots.serve.state import State

ROUTERS = (ops, models, completions, chat, embeddings, tokenize)


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
    for module in ROUTERS:
        app.include_router(module.router)
    install_error_handlers(app)
    # added innermost first: a request meets RequestCounter, HostCheck, APIKeyAuth, BodyLimit, then the routes
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)
    app.add_middleware(APIKeyAuth, api_key=config.api_key)
    app.add_middleware(HostCheck, allowed=config.hosts())
    app.add_middleware(RequestCounter, metrics=state.metrics)
    return app
