"""Server-side counters and the Prometheus text exposition of them and of the engine's own."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roots.serve.engine import Engine


@dataclass
class Metrics:
    """HTTP requests by (path, status) and the token-timing summaries, shared by every request."""

    http_requests: dict[tuple[str, int], int] = field(default_factory=dict)
    ttft_sum: float = 0.0
    ttft_count: int = 0
    itl_sum: float = 0.0
    itl_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str, status: int) -> None:
        with self.lock:
            self.http_requests[(path, status)] = self.http_requests.get((path, status), 0) + 1

    def first_token(self, seconds: float) -> None:
        with self.lock:
            self.ttft_sum += seconds
            self.ttft_count += 1

    def next_token(self, seconds: float) -> None:
        with self.lock:
            self.itl_sum += seconds
            self.itl_count += 1


def render_metrics(engine: Engine, m: Metrics) -> str:
    """Prometheus text exposition format (version 0.0.4)."""
    lines = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value}" for labels, value in samples)

    s = engine.stats
    metric("roots_requests_total", "counter", "Engine requests (one per choice) submitted",
           [("", s["requests_total"])])
    metric("roots_requests_cancelled_total", "counter", "Engine requests cancelled (client went away, shutdown)",
           [("", s["requests_cancelled"])])
    metric("roots_requests_failed_total", "counter", "Engine requests that failed alone (their batch went on)",
           [("", s.get("requests_failed", 0))])
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
