"""Local executor: N worker processes over a list of tasks, each worker initialised once."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from roots.data.executors.base import Executor, R, T


class LocalExecutor(Executor):
    """Maps `fn` over tasks in `workers` processes (spawned, so safe with threads and C extensions).

    `init(*init_args)` runs once in each worker before its first task (load models there). With one
    worker, or one task, everything runs in this process: no start-up cost, easy to debug.
    """

    def __init__(self, workers: int = 1):
        self._workers = max(1, workers)

    @property
    def workers(self) -> int:
        return self._workers

    def imap(self, fn: Callable[[T], R], tasks: Iterable[T], init: Callable[..., Any] | None = None,
             init_args: tuple = ()) -> Iterator[R]:
        """Results in completion order."""
        tasks = list(tasks)
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            if init is not None:
                init(*init_args)
            for task in tasks:
                yield fn(task)
            return
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(self.workers, len(tasks)), initializer=init, initargs=init_args) as pool:
            yield from pool.imap_unordered(fn, tasks)
