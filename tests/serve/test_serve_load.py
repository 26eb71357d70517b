"""Load: many concurrent streaming clients against a tiny model; zero errors, bounded memory.

The default run is short (8 clients x 5 s); ROOTS_LOAD_FULL=1 runs the issue's 32 clients x 30 s.
"""

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
from serve_helpers import live_server

FULL = os.environ.get("ROOTS_LOAD_FULL") == "1"
CLIENTS, SECONDS = (32, 30.0) if FULL else (8, 5.0)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def client(url: str, index: int, until: float, stats: dict) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        i = 0
        while time.monotonic() < until:
            i += 1
            body = {"model": "tiny-gpt2", "prompt": f"Request {index}-{i}: the quick brown fox",
                    "max_tokens": 8 + (index + i) % 24, "temperature": 0.8, "stream": True}
            if i % 3 == 0:  # mix in chat
                body = {"model": "tiny-gpt2", "messages": [{"role": "user", "content": body["prompt"]}],
                        "max_tokens": body["max_tokens"], "stream": True}
            path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
            try:
                async with http.stream("POST", path, json=body) as r:
                    if r.status_code != 200:
                        stats["errors"].append(f"{r.status_code} {await r.aread()}")
                        continue
                    lines = [line async for line in r.aiter_lines() if line]
                if lines[-1] != "data: [DONE]" or not json.loads(lines[-2][6:])["choices"][0]["finish_reason"]:
                    stats["errors"].append(f"bad stream end: {lines[-2:]}")
                stats["requests"] += 1
                stats["events"] += len(lines)
            except httpx.HTTPError as e:
                stats["errors"].append(repr(e))


async def watch(app, until: float, stats: dict) -> None:
    engine = app.state.roots.engine
    while time.monotonic() < until:
        stats["max_rows"] = max(stats["max_rows"], engine.num_running)
        stats["max_cache"] = max(stats["max_cache"], engine.cache_tokens)
        stats["rss"].append(rss_mib())
        await asyncio.sleep(0.1)


def test_concurrent_streaming_clients(tiny_model):
    with live_server(tiny_model, max_batch_size=16, max_seq_len=96) as (url, app):
        engine = app.state.roots.engine
        stats = {"requests": 0, "events": 0, "errors": [], "max_rows": 0, "max_cache": 0, "rss": []}

        async def main():
            until = time.monotonic() + SECONDS
            await asyncio.gather(watch(app, until, stats), *(client(url, i, until, stats) for i in range(CLIENTS)))

        asyncio.run(main())
        deadline = time.monotonic() + 10
        while engine.num_running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stats["errors"] == []
        assert stats["requests"] >= CLIENTS
        assert engine.num_running == 0 and engine.cache_tokens == 0  # every slot was freed
        assert stats["max_rows"] <= 16 and stats["max_cache"] <= 16 * 96  # the KV cache stayed in its bound
        rss = stats["rss"]
        settled = rss[len(rss) // 4:]  # after warm-up, memory must not keep growing
        assert max(settled) - min(settled) < 200, f"RSS moved {min(settled):.0f} -> {max(settled):.0f} MiB"
        print(f"{stats['requests']} streamed requests from {CLIENTS} clients in {SECONDS:.0f} s, "
              f"max {stats['max_rows']} rows, peak RSS {max(rss):.0f} MiB")
