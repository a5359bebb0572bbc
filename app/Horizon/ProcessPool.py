"""The worker processes of one supervisor on one queue (or on its whole queue list when balance is false).

The pool keeps `target` processes alive: it starts missing ones, stops extra ones gracefully
(SIGTERM: the current job finishes), and replaces any that exit. Replacing a worker that
keeps crashing waits longer each time (1, 2, 4 ... MAX_BACKOFF seconds), and every exit is
logged with its reason.
"""
from __future__ import annotations

import logging
import signal
import time
from typing import Callable

from app.Horizon.WorkerProcess import WorkerProcess

log = logging.getLogger("horizon")

MEMORY_EXIT = 12      # queue:work's status when it passed --memory
STABLE_AFTER = 30.0   # a worker that ran this long before crashing resets the backoff
MAX_BACKOFF = 60.0
KILL_GRACE = 10.0     # seconds past the job timeout before a stopping worker is killed


def exit_reason(code: int) -> str:
    """Why a worker ended, from its exit status."""
    if code == 0:
        return "finished (queue:restart, --max-jobs or --max-time)"
    if code == MEMORY_EXIT:
        return "recycled: it passed its memory limit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"crashed with status {code}"


def backoff_after(crashes: int) -> float:
    """Seconds to wait before replacing a worker after `crashes` crashes in a row: 0, 1, 2, 4 ... MAX_BACKOFF."""
    return 0.0 if crashes <= 1 else min(MAX_BACKOFF, 2.0 ** (crashes - 2))


class ProcessPool:
    """Worker processes on one set of queues."""

    def __init__(self, supervisor: str, queues: tuple[str, ...], spawn: Callable[[tuple[str, ...]], WorkerProcess],
                 stop_timeout: float) -> None:
        self.supervisor = supervisor
        self.queues = queues
        self.spawn = spawn
        self.stop_timeout = stop_timeout
        self.target = 0
        self.processes: list[WorkerProcess] = []
        self.terminating: list[WorkerProcess] = []
        self.crashes = 0
        self.next_start = 0.0
        self.paused = False

    @property
    def label(self) -> str:
        return f"{self.supervisor} on {','.join(self.queues)}"

    def count(self) -> int:
        """Processes working now (stopping ones excluded)."""
        return len(self.processes)

    def scale(self, target: int) -> None:
        """Aim for `target` processes; extra ones are stopped now, missing ones start in `monitor`."""
        self.target = max(0, target)
        while len(self.processes) > self.target:
            process = self.processes.pop()  # the newest: the oldest have warm caches and long uptimes
            process.terminate()
            self.terminating.append(process)
        self.monitor()

    def monitor(self) -> None:
        """Reap exited workers (replacing them), kill stuck stopping ones, start missing ones."""
        for process in list(self.processes):
            code = process.exit_code()
            if code is not None:
                self.processes.remove(process)
                self._replaced(process, code)
        self._reap_terminating()
        while len(self.processes) < self.target and time.monotonic() >= self.next_start:
            try:
                process = self.spawn(self.queues)
            except OSError as exc:  # out of processes or memory: try again later rather than end the master
                self.crashes += 1
                self.next_start = time.monotonic() + max(1.0, backoff_after(self.crashes))
                log.error("cannot start a worker of %s: %s; retrying in %gs", self.label, exc, self.next_start - time.monotonic())
                break
            self.processes.append(process)
            if self.paused:
                process.pause()
        if self.paused:
            for process in self.processes:  # repeated: a worker still starting up ignores SIGUSR2
                process.pause()

    def _replaced(self, process: WorkerProcess, code: int) -> None:
        lived = process.uptime()
        crashed = code not in (0, MEMORY_EXIT)
        if crashed and lived < STABLE_AFTER:
            self.crashes += 1
        else:
            self.crashes = 1 if crashed else 0
        wait = backoff_after(self.crashes) if crashed else 0.0
        self.next_start = time.monotonic() + wait
        again = f" ({self.crashes} in a row)" if self.crashes > 1 else ""
        log.warning("worker %d of %s %s after %.1fs%s; %s", process.pid, self.label, exit_reason(code), lived,
                    again, f"restarting in {wait:g}s" if wait else "replacing it")

    def _reap_terminating(self) -> None:
        for process in list(self.terminating):
            if process.exit_code() is not None:
                self.terminating.remove(process)
            elif process.terminating_since is not None and \
                    time.monotonic() - process.terminating_since > self.stop_timeout + KILL_GRACE:
                log.warning("worker %d of %s did not stop %.0fs after SIGTERM; killing it",
                            process.pid, self.label, self.stop_timeout + KILL_GRACE)
                process.kill()

    def pause(self) -> None:
        self.paused = True
        for process in self.processes:
            process.pause()

    def resume(self) -> None:
        self.paused = False
        for process in self.processes:
            process.resume()

    def terminate(self) -> None:
        """Stop every worker gracefully and start no more."""
        self.scale(0)

    def alive(self) -> int:
        """Processes still running, stopping ones included."""
        self.monitor()
        return len(self.processes) + len(self.terminating)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]
