"""The one interface of every executor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor:
    """Maps a function over tasks somewhere; results come back in completion order.

    `init(*init_args)` runs once in each worker process before its first task (load models there).
    Use as a context manager: leaving it releases what the executor started (e.g. a local Ray instance).
    """

    @property
    def workers(self) -> int:
        """How many tasks can run at once (used to size corpus-wide phases)."""
        raise NotImplementedError

    def imap(self, fn: Callable[[T], R], tasks: Iterable[T], init: Callable[..., Any] | None = None,
             init_args: tuple = ()) -> Iterator[R]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
