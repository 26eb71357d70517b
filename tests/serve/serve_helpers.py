"""Test helpers: collect an engine request's outputs; run the app on a real socket (uvicorn) in a thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import uvicorn

from roots.serve.app import create_app
from roots.serve.config import ServeConfig
from roots.serve.connections import uvicorn_config
from roots.serve.engine import Output, Request
from roots.serve.sampling import SamplingParams


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(model, **config):
    port = free_port()
    config = ServeConfig(**{"drain_seconds": 1.0, "port": port, **config})
    app = create_app(model, config)
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class Collector:
    """Gathers one request's outputs; `wait()` returns them once the last one arrives."""

    def __init__(self):
        self.outputs: list[Output] = []
        self.done = threading.Event()

    def __call__(self, out: Output) -> None:
        self.outputs.append(out)
        if out.finish_reason is not None:
            self.done.set()

    def wait(self) -> list[Output]:
        assert self.done.wait(60), "request did not finish"
        return self.outputs

    @property
    def tokens(self) -> list[int]:
        return [t for o in self.wait() for t in o.token_ids]

    @property
    def text(self) -> str:
        return "".join(o.text for o in self.wait())


def submit(engine, prompt_ids, **params) -> Collector:
    c = Collector()
    engine.submit(Request(list(prompt_ids), SamplingParams(**params), c))
    return c


class SlowBackend:
    """A backend whose every forward pass takes at least `delay` seconds: long generations to act during."""

    def __init__(self, inner, delay: float = 0.02):
        self.inner, self.delay = inner, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def forward(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.inner.forward(*args, **kwargs)


def slowed(model, delay: float = 0.02):
    from dataclasses import replace

    return replace(model, backend=SlowBackend(model.backend, delay))
