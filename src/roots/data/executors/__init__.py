"""Executors run one function over many tasks: in local processes (local.py) or on a Ray cluster (ray.py).

Both have the same interface, `imap(fn, tasks, init, init_args)`, so the pipeline and the corpus-wide
steps (`Step.prepare`) are written once. Functions and tasks must be picklable; tasks must be safe to
run twice (Ray retries a task whose worker died), which the pipeline ensures with atomic writes and
completion markers.
"""

from __future__ import annotations

from typing import Literal

from roots.common.errors import UserError
from roots.data.executors.base import Executor
from roots.data.executors.local import LocalExecutor

ExecutorKind = Literal["local", "ray"]


def make_executor(kind: ExecutorKind, workers: int = 1, ray_address: str = "") -> Executor:
    """The executor a curate config asks for (Ray is imported only when chosen)."""
    if kind == "local":
        if ray_address:
            raise UserError("--ray-address needs --executor ray")
        return LocalExecutor(workers)
    if kind == "ray":
        from roots.data.executors.ray import RayExecutor

        return RayExecutor(workers, address=ray_address or None)
    raise UserError(f"unknown executor {kind!r}; choose local or ray")


__all__ = ["Executor", "ExecutorKind", "LocalExecutor", "make_executor"]
