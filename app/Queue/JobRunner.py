"""Call a job's handle (sync or async) inside its middleware onion, under a soft timeout."""
from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from typing import TYPE_CHECKING, Any, Callable

from app.Queue.errors import JobTimeoutError
from app.Queue.Support.Alarm import Alarm, timeout_message

if TYPE_CHECKING:
    from app.Jobs.Job import Job


def middleware_of(job: Job) -> list[Any]:
    """Collect the job's middleware: a stack set in __init__, or what a `middleware()` method returns."""
    source = getattr(job, "middleware", None)
    if source is None:
        return []
    if inspect.ismethod(source):
        source = source()
    if source is None:
        return []
    return list(source)


class JobRunner:
    """Run jobs; async handles share one event loop per runner."""

    def __init__(self, keep_alarm_handler: bool = False) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        # A worker keeps its SIGALRM handler installed between jobs (installing it costs ~5 % of
        # a no-op job); elsewhere (sync connection, dispatch_now) the caller's handler is restored.
        self._alarm = Alarm(keep_handler=keep_alarm_handler)

    def run(self, job: Job, timeout: float | None = None) -> Any:
        """Run `job.handle` through its middleware; raise JobTimeoutError after `timeout` seconds."""
        stack = middleware_of(job)
        if stack:
            core: Callable[[Job], Any] = functools.partial(self._call_handle, timeout=timeout)
            pipeline = functools.reduce(lambda nxt, mw: functools.partial(_call_middleware, mw, nxt), reversed(stack), core)
            call = functools.partial(pipeline, job)
        else:  # most jobs: one partial, not a pipeline of one
            call = functools.partial(self._call_handle, job, timeout)
        # Async handles are bounded by asyncio.wait_for; SIGALRM inside a running loop would corrupt it.
        cls = type(job)
        return self._alarm.call(None if _is_async(cls) else timeout, cls.__name__, call)

    def _call_handle(self, job: Job, timeout: float | None) -> Any:
        result = job.handle()
        if result is not None and inspect.isawaitable(result):
            result = self._await(result, timeout, job)
        return result

    def _await(self, awaitable: Any, timeout: float | None, job: Job) -> Any:
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()

        async def guarded() -> Any:
            try:
                return await asyncio.wait_for(awaitable, timeout) if timeout else await awaitable
            except TimeoutError:
                raise JobTimeoutError(timeout_message(type(job).__name__, timeout)) from None

        return self._loop.run_until_complete(guarded())

    def run_callback(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a hook such as `failed(exc)`, awaiting it when it is async."""
        result = fn(*args)
        if inspect.isawaitable(result):
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(result)
        return result

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.close()
        self._alarm.uninstall()


_ASYNC_HANDLE: dict[type, bool] = {}


def _is_async(cls: type) -> bool:
    """Whether a job class's handle is a coroutine function (cached per class)."""
    known = _ASYNC_HANDLE.get(cls)
    if known is None:
        known = _ASYNC_HANDLE[cls] = inspect.iscoroutinefunction(getattr(cls, "handle", None))
    return known


def _call_middleware(middleware: Any, nxt: Callable[[Job], Any], job: Job) -> Any:
    return middleware.handle(job, nxt)


def run_now(job: Job) -> Any:
    """Run a job in this process, bypassing the queue (dispatch_now); errors propagate."""
    if not job.job_id:
        job.job_id = str(uuid.uuid4())
    job.attempts = 1
    runner = JobRunner()
    try:
        return runner.run(job, job.timeout)
    finally:
        runner.close()
