"""The one SIGALRM soft timeout: raise JobTimeoutError inside a synchronous job that runs too long.

A worker keeps the handler installed between jobs (installing it costs ~5 % of a no-op job) and
only arms and disarms the timer per job; elsewhere (the sync connection, `dispatch_now`) the
caller's handler is put back after every call. Threads and event loops have their own timeouts
(app/Queue/Concurrency, asyncio.wait_for): a signal reaches the main thread only.
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable, TypeVar

from app.Queue.errors import JobTimeoutError

T = TypeVar("T")


def timeout_message(name: str, seconds: float | None) -> str:
    """Return the text of the JobTimeoutError raised when job `name` overruns `seconds`."""
    shown = f"{seconds:g}" if seconds is not None else "?"
    return f"{name} timed out after {shown} s"


class Alarm:
    """A SIGALRM handler installed on first use; each call arms and disarms the timer."""

    def __init__(self, keep_handler: bool = False) -> None:
        self._keep_handler = keep_handler
        self._name = ""  # the job running under the timer, and its limit: the message is spelt only if it fires
        self._seconds: float | None = None
        self._previous: Any = None
        self._installed = False

    def call(self, seconds: float | None, name: str, fn: Callable[[], T]) -> T:
        """Call `fn()` with the timer armed for `seconds` (a plain call when there is no limit)."""
        if not seconds or seconds <= 0 or threading.get_ident() != threading.main_thread().ident:
            return fn()
        if not self._installed:
            self._previous = signal.signal(signal.SIGALRM, self._expired)
            self._installed = True
        self._name, self._seconds = name, seconds
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if not self._keep_handler:
                self.uninstall()

    def _expired(self, signum: int, frame: Any) -> None:
        raise JobTimeoutError(timeout_message(self._name, self._seconds))

    def uninstall(self) -> None:
        """Put back the handler that was installed before this alarm's first use."""
        if self._installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, self._previous)
            self._installed = False
