"""Calling job code from a concurrent worker's slots: async handles under a timeout, middleware, hooks."""
from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any, Callable

from app.Queue.errors import JobTimeoutError

if TYPE_CHECKING:
    from app.Jobs.Job import Job


class CallbackRunner:
    """Call hooks such as `failed(exc)` from any thread, running an async one on a fresh loop."""

    def run_callback(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return result

    def close(self) -> None:
        return None


async def await_handle(job: Job, timeout: float) -> Any:
    """Await an async handle; past `timeout` seconds it is cancelled and JobTimeoutError raised."""
    awaitable = job.handle()
    if not inspect.isawaitable(awaitable):
        return awaitable
    if timeout and timeout > 0:
        try:
            async with asyncio.timeout(timeout):  # not wait_for: that runs the awaitable in a second task per job
                return await awaitable
        except TimeoutError:
            raise JobTimeoutError(f"{type(job).__name__} timed out after {timeout:g} s") from None
    return await awaitable


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def call_middleware(middleware: Any, nxt: Callable[[Job], Any], job: Job) -> Any:
    return middleware.handle(job, nxt)
