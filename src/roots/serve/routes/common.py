"""Pieces the API routers share: Server-Sent Events and failures in the middle of a stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from roots.serve.engine import Output
from roots.serve.errors import APIError


def sse(data: BaseModel | dict[str, Any] | str) -> str:
    """One Server-Sent Event."""
    if isinstance(data, BaseModel):
        data = data.model_dump_json()
    elif isinstance(data, dict):
        data = json.dumps(data, ensure_ascii=False)
    return f"data: {data}\n\n"


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    """An SSE response that no proxy or browser caches or buffers."""
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def errors_as_events(outputs: AsyncIterator[tuple[int, Output]]
                           ) -> AsyncIterator[tuple[int, Output | str]]:
    """Pass outputs through; a failure mid-stream becomes one SSE error event (the status is already 200)."""
    try:
        async for item in outputs:
            yield item
    except APIError as e:
        yield -1, sse(e.body())
