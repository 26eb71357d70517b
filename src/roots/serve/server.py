"""`roots serve`: load a model, start the engine and run the HTTP server until interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from roots.common.errors import UserError, missing_extra
from roots.serve.config import ServeConfig


def serve(config: ServeConfig) -> int:
    """Serve `config.model` on http://host:port (OpenAI-compatible API under /v1, playground at /)."""
    try:
        import uvicorn
    except ImportError as e:
        raise missing_extra("uvicorn", "serve") from e
    from roots.serve.app import create_app
    from roots.serve.backend import load_served_model
    from roots.serve.connections import raise_open_file_limit, uvicorn_config

    if not config.model:
        raise UserError("give the model directory to serve: roots serve --model DIR")
    config.api_key = config.api_key or os.environ.get("ROOTS_API_KEY", "")
    if not config.loopback and not config.api_key:
        print(f"roots serve: warning: listening on {config.host} without an API key", file=sys.stderr)
    model = load_served_model(config.model, config.device, config.dtype)
    app = create_app(model, config)
    print(f"roots serve: {model.name} on http://{config.host}:{config.port} (playground at /, API at /v1)",
          file=sys.stderr)
    raise_open_file_limit()
    server = uvicorn.Server(uvicorn_config(app, config))
    with _signals_end_quietly():
        server.run()
    print(f"roots serve: stopped serving {config.model} on {config.host}:{config.port}")
    return 0


@contextlib.contextmanager
def _signals_end_quietly():
    """uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler that was
    there before it; a no-op handler here lets the command finish normally and print its summary."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
