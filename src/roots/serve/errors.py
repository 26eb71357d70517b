"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` for every failure the API returns."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


class APIError(Exception):
    """An error for the client: the HTTP status and the OpenAI error object's fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def error_response(status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                   code: str | int | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every exception the routes raise, and FastAPI's own (routing, validation), as OpenAI error objects."""

    @app.exception_handler(APIError)
    async def api_error(request: Request, e: APIError):
        return error_response(e.status, e.message, e.type, e.param, e.code)

    @app.exception_handler(StarletteHTTPException)  # routing errors (404, 405)
    async def http_error(request: Request, e: StarletteHTTPException):
        kind = "authentication_error" if e.status_code == 401 else "invalid_request_error"
        return error_response(e.status_code, str(e.detail), kind, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        # of a union's failed members, the one that matched furthest says best what is wrong
        first = max(e.errors(), key=lambda err: len(err.get("loc", ())), default={})
        loc = [str(p) for p in first.get("loc", ())]
        if first.get("type") == "json_invalid":
            return error_response(400, f"the request body is not valid JSON: {first.get('ctx', {}).get('error', '')}"
                                  .rstrip(": "), code="invalid_json")
        # the message names the place (without pydantic's union-member tags); `param` is the top-level field
        where = ".".join(p for p in loc[1:] if not ("[" in p or "-" in p or p in UNION_TAGS))
        message = first.get("msg", "invalid request")
        if first.get("type") == "string_unicode":
            message = "the text is not valid Unicode (JSON escapes such as \\ud800 are lone surrogates)"
        return error_response(400, f"{where or 'body'}: {message}", param=loc[1] if len(loc) > 1 else None)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        log.error("internal error on %s", request.url.path, exc_info=e)
        return error_response(500, f"internal error: {type(e).__name__}", "server_error")
