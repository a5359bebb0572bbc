"""Keep the servers and workers a test run starts from outliving it, however the run ends.

Two guards, because no single one covers every exit:
- `die_with_parent(sig)` is a `preexec_fn` that asks Linux to send `sig` to the child when
  the process that started it dies (PR_SET_PDEATHSIG). This covers the exits that run no
  Python code: pytest-timeout's thread method ends a hung run with `os._exit`, and a
  SIGKILLed pytest runs no finaliser at all.
- `track(proc)` remembers a child started in its own process group; an `atexit` handler
  signals each group still alive when the interpreter exits normally (a fixture teardown
  that never ran, a KeyboardInterrupt between tests).
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from typing import Callable

PR_SET_PDEATHSIG = 1

# Loaded before any fork: a preexec_fn should not load libraries in the child of a threaded parent.
_prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl if sys.platform == "linux" else None
_tracked: list[subprocess.Popen[bytes]] = []


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive `sig` when this process dies (None off Linux).

    Linux sends the signal when the *thread* that started the child ends, so a child started
    from any other thread than the main one is left unguarded rather than killed early.
    """
    if _prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()

    def arm() -> None:
        _prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os.kill(os.getpid(), sig)

    return arm


def track(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Signal `proc`'s process group at interpreter exit if it is still running then."""
    _tracked[:] = [p for p in _tracked if p.poll() is None]
    _tracked.append(proc)
    return proc


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@atexit.register
def _stop_tracked() -> None:
    """SIGTERM every tracked group still alive, then SIGKILL what ignores it for 10 s."""
    alive = [p for p in _tracked if p.poll() is None]
    for proc in alive:
        _kill_group(proc, signal.SIGTERM)
    for proc in alive:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            _kill_group(proc, signal.SIGKILL)
