"""Pure ASGI middleware, outermost first: count requests, check the Host header, check the API key, bound
the body. Each answers before the request body is read, so a wrong key gets 401 whatever the body holds."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException

from roots.serve.errors import error_response
from roots.serve.metrics import Metrics

ASGIApp = Callable[..., Any]

KNOWN_PATHS = {"/", "/health", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions",
               "/v1/embeddings", "/tokenize", "/detokenize", "/tokenizer_info"}
PROTECTED = ("/v1/", "/tokenize", "/detokenize", "/tokenizer_info")  # everything but health, metrics, the page


def path_label(path: str) -> str:
    """A bounded set of label values for /metrics (paths clients make up would grow it without end)."""
    if path in KNOWN_PATHS:
        return path
    return "/v1/models/{model}" if path.startswith("/v1/models/") else "other"


class RequestCounter:
    """Counts every HTTP response by path and status, including the ones the middleware below refuses."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def counted(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.metrics.count(path_label(scope["path"]), status)


def host_name(header: str) -> str:
    """`example.com:8000` -> `example.com`; `[::1]:8000` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """Rejects Host headers outside `allowed` (DNS rebinding: a web page's script reaching a loopback server
    through a name the attacker controls). An empty `allowed` accepts every host."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]):
        self.app = app
        self.allowed = {h.strip().lower().strip("[]") for h in allowed if h.strip()}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and self.allowed and "*" not in self.allowed:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host_name(host) not in self.allowed:
                response = error_response(400, f"the Host header {host!r} is not allowed; start the server with "
                                          f"--allowed-hosts naming it", code="host_not_allowed")
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class APIKeyAuth:
    """`Authorization: Bearer KEY` on the API paths, checked before anything reads the body."""

    def __init__(self, app: ASGIApp, api_key: str):
        self.app, self.api_key = app, api_key.encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and self.api_key and scope["path"].startswith(PROTECTED):
            given = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = given.partition(b" ")
            if scheme.lower() != b"bearer" or not secrets.compare_digest(token.strip(), self.api_key):
                response = error_response(401, "missing or wrong API key (send `Authorization: Bearer KEY`)",
                                          "authentication_error", headers={"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class BodyLimit:
    """Request bodies larger than `max_bytes` get 413: by their Content-Length, or counted as they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int):
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
