"""Connection hygiene for uvicorn: header and keep-alive timeouts, a connection cap, the open-file limit.

uvicorn times out idle keep-alive connections but not a connection that never finishes sending its request
headers (idle from the start, or a slow-loris client), so a few thousand such connections used to exhaust
the process's file descriptors. `GuardedH11Protocol` closes a connection that has not sent complete headers
within `header_seconds`; `limit_concurrency` answers 503 beyond `max_connections`.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from roots.serve.config import ServeConfig

log = logging.getLogger(__name__)


def guarded_protocol(header_seconds: float) -> type:
    """uvicorn's h11 protocol with a deadline for the request headers."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is None or self.cycle.response_complete:
                self._arm()  # still waiting for (the rest of) the headers: the deadline is not moved
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_seconds, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
                self.transport.close()  # no complete request headers in time

    return GuardedH11Protocol


def raise_open_file_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit (what the OS allows this process); returns it."""
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        log.warning("could not raise the open-file limit from %s to %s: %s", soft, target, e)
        return soft
    return target


def uvicorn_config(app, config: ServeConfig, log_level: str = "info"):
    """The uvicorn settings `roots serve` runs with (also used by the tests' live servers)."""
    import uvicorn

    return uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level,
                          http=guarded_protocol(config.header_seconds),
                          timeout_keep_alive=max(1, round(config.keep_alive_seconds)),
                          limit_concurrency=config.max_connections,
                          timeout_graceful_shutdown=max(1, int(config.drain_seconds)))
