"""What a scheduled event runs: a queued job, an artisan command (a subprocess), or a Python callable.

Commands run as `python artisan <command>` in a child process, not inside the scheduler:
a command may call sys.exit, install signal handlers (queue:work), hold memory or hang,
and none of that may stop the scheduler or the other events; the child also sees the
code and settings exactly as a shell would. The argument list is split with shlex and
run without a shell, so nothing in it is interpreted by one.
"""
from __future__ import annotations

import copy
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from app.Queue.errors import QueueError
from app.Queue.QueueManager import manager

if TYPE_CHECKING:
    from app.Jobs.Job import Job

ROOT = Path(__file__).resolve().parent.parent.parent
OUTPUT_TAIL = 2000  # characters of a failed command's output kept for its error


class TaskFailed(QueueError):
    """A scheduled command exited with a non-zero status; `output` holds the end of what it printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class Task(Protocol):
    """Something a scheduled event runs."""

    kind: str

    def summary(self) -> str:
        """Describe what runs, for lists and logs."""

    def run(self) -> str:
        """Run it once; return a short note on success, raise on failure."""


class JobTask:
    """Dispatch a copy of a job instance to its queue (or the given queue and connection)."""

    kind = "job"

    def __init__(self, job: Job, queue: str | None = None, connection: str | None = None) -> None:
        self.job, self.queue, self.connection = job, queue, connection

    def summary(self) -> str:
        cls = type(self.job)
        where = "".join(f" {k}={v}" for k, v in (("connection", self.connection), ("queue", self.queue)) if v)
        return f"{cls.__module__}.{cls.__qualname__}{where}"

    def run(self) -> str:
        job = copy.deepcopy(self.job)  # a fresh job per due time: ids and runtime state are per dispatch
        job.job_id = None
        job_id = manager().push(job, self.queue, self.connection)
        return f"dispatched {job_id}" if job_id else "not dispatched (a unique job is still queued)"


class CommandTask:
    """Run `python artisan <command>` in a child process and wait for it."""

    kind = "command"

    def __init__(self, command: str, parameters: list[str] | None = None) -> None:
        self.argv = shlex.split(command) + [str(p) for p in parameters or []]
        self.command = shlex.join(self.argv)

    @property
    def name(self) -> str:
        """The artisan command's name (its first word)."""
        return self.argv[0] if self.argv else ""

    def summary(self) -> str:
        return self.command

    def process_args(self) -> list[str]:
        """The child process's argument list."""
        return [sys.executable, str(ROOT / "artisan"), *self.argv]

    def run(self) -> str:
        done = subprocess.run(self.process_args(), cwd=ROOT, capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL)
        return check_exit(done.returncode, done.stdout + done.stderr)


def check_exit(status: int, output: str) -> str:
    """Turn a child's exit status and output into a note, or raise TaskFailed with its last line."""
    tail = output[-OUTPUT_TAIL:]
    lines = [line for line in tail.splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if status != 0:
        raise TaskFailed(f"exit status {status}" + (f": {last}" if last else ""), tail)
    return last or "exit status 0"


class CallTask:
    """Call a Python function in the scheduler process."""

    kind = "call"

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> None:
        if not callable(func):
            raise TypeError(f"schedule.call() takes a callable, got {func!r}")
        self.func, self.args, self.kwargs = func, args, dict(kwargs or {})

    def summary(self) -> str:
        module = getattr(self.func, "__module__", None) or ""
        name = getattr(self.func, "__qualname__", None) or type(self.func).__name__
        return f"{module}.{name}" if module else name

    def run(self) -> str:
        result = self.func(*self.args, **self.kwargs)
        return "" if result is None else str(result).splitlines()[0][:200] if str(result) else ""
