"""One API request fanned out to engine requests (prompts x n), gathered back on the event loop.

Outputs arrive on the engine thread and are handed to asyncio with `call_soon_threadsafe`. A task watches
the connection: when the client goes away, every engine request of the API request is cancelled, which
frees their rows at the next engine step, whatever kind of request it was (streaming or not, n > 1,
several prompts).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from fastapi import Request

from roots.serve.engine import Constraint, Output
from roots.serve.engine import Request as EngineRequest
from roots.serve.errors import APIError
from roots.serve.sampling import SamplingParams
from roots.serve.state import State

GONE = object()  # queue sentinel: the client disconnected


class ClientDisconnected(APIError):
    def __init__(self):
        super().__init__(499, "the client closed the connection", type="client_closed_request")


async def wait_for_disconnect(request: Request) -> None:
    """Returns when the client has gone (the request body has been read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


class Choices:
    """The engine requests of one API request; `outputs()` yields (choice index, output) as they come."""

    def __init__(self, state: State, jobs: list[tuple[list[int], SamplingParams]],
                 constraints: list[Constraint] | None = None):
        self.state = state
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        constraints = constraints or [None] * len(jobs)
        self.requests = [EngineRequest(ids, params, self._callback(i), constraint)
                         for i, ((ids, params), constraint) in enumerate(zip(jobs, constraints))]
        self.started = time.perf_counter()
        self._last_token: list[float | None] = [None] * len(jobs)

    def _callback(self, index: int) -> Callable[[Output], None]:
        return lambda out: self.loop.call_soon_threadsafe(self.queue.put_nowait, (index, out))

    def submit(self) -> None:
        try:
            for request in self.requests:
                self.state.engine.submit(request)
        except (ValueError, RuntimeError) as e:
            self.cancel()
            status = 503 if isinstance(e, RuntimeError) else 400
            raise APIError(status, str(e), param="prompt" if status == 400 else None) from e

    def cancel(self) -> None:
        for request in self.requests:
            request.cancel()

    async def outputs(self, request: Request | None = None) -> AsyncIterator[tuple[int, Output]]:
        """(choice index, output) until every choice has finished. With `request`, a client that leaves
        cancels every choice and ends the iteration with `ClientDisconnected`."""
        watcher = None
        if request is not None:
            async def watch() -> None:
                await wait_for_disconnect(request)
                self.cancel()
                self.queue.put_nowait((-1, GONE))

            watcher = asyncio.ensure_future(watch())
        pending = len(self.requests)
        try:
            while pending:
                index, out = await self.queue.get()
                if out is GONE:
                    raise ClientDisconnected()
                self._time(index, out)
                if out.finish_reason == "error":
                    if out.client_error:
                        raise APIError(400, out.error or "the request could not be served")
                    raise APIError(500, "generation failed inside the engine (see the server log)",
                                   type="server_error")
                if out.finish_reason == "cancelled":
                    raise APIError(503, "the server is shutting down; retry against another instance",
                                   type="server_error")
                pending -= out.finish_reason is not None
                yield index, out
        finally:
            if watcher is not None:
                watcher.cancel()
            self.cancel()  # no-op for finished requests; frees the rows of the others

    def _time(self, index: int, out: Output) -> None:
        if not out.token_ids:
            return
        now, last = time.perf_counter(), self._last_token[index]
        if last is None:
            self.state.metrics.first_token(now - self.started)
        else:
            self.state.metrics.next_token(now - last)
        self._last_token[index] = now
