"""One `queue:work` child of the master: started so that it cannot outlive the master.

On Linux the child asks the kernel (prctl PR_SET_PDEATHSIG) for SIGTERM when the master dies,
SIGKILL included, and checks right away that the master is still its parent (it may have died
between fork and prctl). SIGTERM is the worker's graceful stop: its current job finishes
(bounded by the job's timeout), then it exits.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

log = logging.getLogger("horizon")

PR_SET_PDEATHSIG = 1
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
except OSError:
    _LIBC = None


def child_setup(master_pid: int, nice: int) -> Callable[[], None]:
    """What the child runs between fork and exec: die with the master, lower priority, hold SIGUSR2."""
    def setup() -> None:
        if _LIBC is not None and sys.platform.startswith("linux"):
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != master_pid:
            os._exit(0)  # the master died before prctl took effect
        # a pause (SIGUSR2) sent before the worker installs its handler must not kill it;
        # the master repeats SIGUSR2 while paused, so a pause ignored this early is not lost
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        if nice:
            os.nice(nice)
    return setup


class WorkerProcess:
    """A running worker of one pool; tracks when it started and whether it is being stopped."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], nice: int = 0) -> None:
        self.argv = argv
        self.started = time.monotonic()
        self.terminating_since: float | None = None
        self.paused = False
        # its own process group: Ctrl-C in a terminal reaches the master only, which then stops
        # its workers in order instead of racing them
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=None, stderr=None,
                                     preexec_fn=child_setup(os.getpid(), nice), close_fds=True, process_group=0)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exit_code(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal), else None."""
        return self.proc.poll()

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def terminate(self) -> None:
        """Ask the worker to finish its current job and exit (SIGTERM), once."""
        if self.terminating_since is None:
            self.terminating_since = time.monotonic()
            self.signal(signal.SIGTERM)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def pause(self) -> None:
        """Stop taking jobs (the worker handles SIGUSR2); repeated while paused, so an early one lost is resent."""
        self.paused = True
        self.signal(signal.SIGUSR2)

    def resume(self) -> None:
        self.paused = False
        self.signal(signal.SIGCONT)

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signum)
            except ProcessLookupError:
                pass
