"""A per-document time limit that can never hang the run (SIGALRM, as datatrove's extractors do)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class DocumentTimeout(Exception):
    """Raised inside the guarded block when its time is up."""


def _raise(signum, frame):
    raise DocumentTimeout


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after `seconds` with DocumentTimeout.

    Signals only reach the main thread, where the executor runs steps (worker processes run tasks in
    their main thread too). Elsewhere, or with seconds <= 0, the block runs without a limit.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
