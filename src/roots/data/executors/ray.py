"""Ray executor: the same `imap` as LocalExecutor, as Ray tasks on a cluster or on a local Ray instance.

Every task runs `fn(task)` in a Ray worker process with `max_retries`: when a worker dies (killed, out
of memory, node lost) Ray runs the task again, which is safe because pipeline tasks first delete what
an earlier attempt left and write their shards and markers atomically. `init(*init_args)` runs once per
worker process and per `imap` call, as a process pool's initializer does: Ray reuses worker processes,
so each process remembers the token of the last init it ran. `init_args` go to the object store once.

Files are exchanged through paths: the input, output and work folders must be visible under the same
path on every node (shared storage; see docs/ray.md).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from roots.common.errors import UserError
from roots.data.executors.base import Executor, R, T

log = logging.getLogger(__name__)

_current_init: str | None = None  # in a Ray worker process: the token of the init it ran last


def _run(fn: Callable[[T], R], init: Callable[..., Any] | None, init_args: tuple, token: str, task: T) -> R:
    global _current_init
    if init is not None and _current_init != token:
        init(*init_args)
        _current_init = token
    return fn(task)


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise UserError("--executor ray needs Ray: pip install 'roots[ray]'") from e
    return ray


class RayExecutor(Executor):
    """Maps `fn` over tasks as Ray tasks (one CPU each), retried up to `max_retries` times if a worker dies.

    `address` is a running cluster ("auto", or "HOST:PORT" of its head); without one a local Ray
    instance with `workers` CPUs is started on first use and shut down by `close()`. When Ray is
    already initialised in this process (a notebook, a test session), that instance is used as is.
    """

    def __init__(self, workers: int = 1, address: str | None = None, max_retries: int = 3):
        self.num_cpus = max(1, workers)
        self.address = address
        self.max_retries = max_retries
        self._started = False

    def _connect(self):
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        try:
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        except ConnectionError as e:
            raise UserError(f"cannot reach a Ray cluster at {self.address!r} ({e}); start one with "
                            f"`ray start --head` or leave out --ray-address for a local instance") from e
        self._started = True
        log.info("ray: %s", ray.cluster_resources())
        return ray

    @property
    def workers(self) -> int:
        """CPUs of the cluster: tasks that can run at once."""
        return max(1, int(self._connect().cluster_resources().get("CPU", 1)))

    def imap(self, fn: Callable[[T], R], tasks: Iterable[T], init: Callable[..., Any] | None = None,
             init_args: tuple = ()) -> Iterator[R]:
        """Results in completion order; a task that raises stops the map and cancels the rest."""
        tasks = list(tasks)
        if not tasks:
            return
        ray = self._connect()
        remote = ray.remote(_run).options(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)
        token = uuid.uuid4().hex
        args_ref = ray.put(init_args)  # sent once, whatever the number of tasks
        pending = {remote.remote(fn, init, args_ref, token, task): task for task in tasks}
        try:
            while pending:
                # what finished within a second, else the first to finish: one call per batch, not per task
                done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=1.0)
                done = done or ray.wait(list(pending), num_returns=1)[0]
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
                        raise RuntimeError(f"task {task!r}: its Ray worker died in each of "
                                           f"{self.max_retries + 1} attempts (killed, or out of memory? "
                                           f"see `ray status`)") from e
                    yield result
        finally:
            for ref in pending:  # the map stopped early (an error, or the caller stopped reading)
                ray.cancel(ref)

    def close(self) -> None:
        if self._started:
            _import_ray().shutdown()
            self._started = False
