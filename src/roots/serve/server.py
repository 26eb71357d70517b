"""`roots serve`: load a model, start the engine and run the HTTP server until interrupted."""

from __future__ import annotations

import os
import sys

from roots.common.errors import UserError, missing_extra
from roots.serve.config import ServeConfig


def serve(config: ServeConfig) -> int:
    """Serve `config.model` on http://host:port (OpenAI-compatible API under /v1, playground at /)."""
    try:
        import uvicorn
    except ImportError as e:
        raise missing_extra("uvicorn", "serve") from e
    from roots.serve.app import create_app
    from roots.serve.backend import load_model

    if not config.model:
        raise UserError("give the model directory to serve: roots serve --model DIR")
    config.api_key = config.api_key or os.environ.get("ROOTS_API_KEY", "")
    if config.host not in ("127.0.0.1", "localhost", "::1") and not config.api_key:
        print(f"roots serve: warning: listening on {config.host} without an API key", file=sys.stderr)
    model = load_model(config.model, config.device, config.dtype)
    app = create_app(model, config)
    print(f"roots serve: {model.name} on http://{config.host}:{config.port} (playground at /, API at /v1)",
          file=sys.stderr)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info",
                timeout_graceful_shutdown=max(1, int(config.drain_seconds)))
    print(f"roots serve: stopped serving {config.model} on {config.host}:{config.port}")
    return 0
