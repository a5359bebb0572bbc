"""A worker's signals: SIGTERM/SIGINT finish the job in hand and stop, SIGUSR2/SIGCONT hold and release it (horizon:pause)."""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable


class WorkerSignals:
    """The flags the signal handlers set, and the worker's sleep, which a signal cuts short."""

    def __init__(self, sleeper: Callable[[float], None] | None = None) -> None:
        self.should_quit = False
        self.held = False  # SIGUSR2 from horizon's master: take no jobs until SIGCONT
        self.sleeper = sleeper  # tests inject one; None sleeps on an event that signals set
        self.wake = threading.Event()

    def listen(self) -> None:
        """Install the handlers (only the main thread may)."""
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self.quit)
        signal.signal(signal.SIGINT, self.quit)
        signal.signal(signal.SIGUSR2, self.hold)
        signal.signal(signal.SIGCONT, self.unhold)

    def quit(self, signum: int = 0, frame: Any = None) -> None:
        """SIGTERM/SIGINT: finish the current job, then stop."""
        self.should_quit = True
        self.wake.set()

    def hold(self, signum: int = 0, frame: Any = None) -> None:
        """Pause (SIGUSR2, sent by horizon:pause through the master): finish the current job, take no more."""
        self.held = True

    def unhold(self, signum: int = 0, frame: Any = None) -> None:
        """Continue (SIGCONT) after a SIGUSR2 pause."""
        if self.held:
            self.held = False
            self.wake.set()

    def sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`; a stop or continue signal ends it early."""
        if seconds <= 0 or self.should_quit:
            return
        if self.sleeper is not None:
            self.sleeper(seconds)
            return
        self.wake.wait(seconds)
        self.wake.clear()
