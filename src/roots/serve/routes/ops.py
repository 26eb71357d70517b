"""What operators and browsers use: /health, /metrics and the playground page at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from roots.serve.metrics import render_metrics
from roots.serve.state import AppState

STATIC = Path(__file__).parent.parent / "static"
router = APIRouter()


@router.get("/health")
async def health(state: AppState) -> JSONResponse:
    engine = state.engine
    ok = engine.accepting and engine._thread is not None and engine._thread.is_alive()
    body = {"status": "ok" if ok else "unavailable", "running": engine.num_running, "waiting": engine.num_waiting}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def playground() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(state: AppState) -> PlainTextResponse:
    return PlainTextResponse(render_metrics(state.engine, state.metrics), media_type="text/plain; version=0.0.4")
