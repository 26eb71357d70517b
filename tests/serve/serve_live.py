"""Run the app on a real socket in a background thread (uvicorn), for clients that need a live server."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import uvicorn

from roots.serve.app import create_app
from roots.serve.config import ServeConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(model, **config):
    config = ServeConfig(**{"drain_seconds": 1.0, **config})
    app = create_app(model, config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
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
