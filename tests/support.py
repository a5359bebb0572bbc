"""Helpers for tests that run real worker processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from tests.process_guard import die_with_parent, track

ROOT = Path(__file__).resolve().parent.parent


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current (test-configured) environment for a worker subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def start_worker(args: Sequence[str] = (), env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `python artisan queue:work ...` as a separate process."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    return track(subprocess.Popen(
        [sys.executable, str(ROOT / "artisan"), "queue:work", *args],
        cwd=ROOT, env=worker_env(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=die_with_parent(signal.SIGKILL),  # a worker stuck in a job must not outlive the run
    ))


def artisan(*args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one artisan command and capture its output."""
    return subprocess.run([sys.executable, str(ROOT / "artisan"), *args], cwd=ROOT, env=worker_env(env),
                          capture_output=True, text=True, input=input, timeout=timeout)


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signal a worker and wait for it; SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A command-line error as DESIGN invariant 5 wants it: exit 1, one line on stderr naming `needles`, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"exit {result.returncode}: {output}"
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and not result.stdout.strip(), output
    for needle in needles:
        assert needle in lines[0], lines[0]
