"""ProcessPool with real (tiny) processes: scaling, replacing exits, crash-loop backoff and its log lines."""
from __future__ import annotations

import logging
import os
import signal
import sys
import time

from app.Horizon.ProcessPool import ProcessPool, backoff_after, exit_reason
from app.Horizon.WorkerProcess import WorkerProcess
from tests.support import ROOT, wait_until


def pool(code: str, stop_timeout: float = 5.0) -> ProcessPool:
    def spawn(queues):
        return WorkerProcess([sys.executable, "-c", code], ROOT, dict(os.environ))
    return ProcessPool("s1", ("default",), spawn, stop_timeout)


def settle(p: ProcessPool, predicate, timeout: float = 10.0) -> bool:
    def check():
        p.monitor()
        return predicate()
    return wait_until(check, timeout, 0.05)


def test_exit_reasons_say_why_a_worker_ended():
    assert "queue:restart" in exit_reason(0)
    assert "memory limit" in exit_reason(12)
    assert exit_reason(1) == "crashed with status 1"
    assert exit_reason(-signal.SIGKILL) == "killed by SIGKILL"


def test_crash_backoff_doubles_up_to_a_minute():
    assert [backoff_after(n) for n in range(1, 9)] == [0, 1, 2, 4, 8, 16, 32, 60]


def test_pool_scales_up_and_down_gracefully(tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    # Each child says when its SIGTERM handler is in place: a child still starting up would die of the
    # signal's default action at once (and could be reaped before the assertions below look).
    p = pool("import os, signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
             f"open(os.path.join({str(ready)!r}, str(os.getpid())), 'w').close(); time.sleep(60)")
    try:
        p.scale(3)
        assert p.count() == 3 and len(set(p.pids())) == 3
        assert wait_until(lambda: len(os.listdir(ready)) == 3, 30, 0.05)
        stopped = p.pids()[1:]
        p.scale(1)
        assert p.count() == 1 and {w.pid for w in p.terminating} <= set(stopped)
        assert settle(p, lambda: not p.terminating)
        assert all(not os.path.exists(f"/proc/{pid}") for pid in stopped)
    finally:
        p.terminate()
        settle(p, lambda: p.alive() == 0)


def test_a_killed_worker_is_replaced_at_once_and_logged(caplog):
    p = pool("import time; time.sleep(60)")
    try:
        p.scale(1)
        [first] = p.pids()
        os.kill(first, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="horizon"):
            assert settle(p, lambda: p.count() == 1 and p.pids() != [first])
        assert any(f"worker {first} of s1 on default killed by SIGKILL" in r.getMessage() and "replacing it" in r.getMessage()
                   for r in caplog.records)
    finally:
        p.terminate()
        settle(p, lambda: p.alive() == 0)


def test_a_crash_looping_worker_is_restarted_with_growing_delays(caplog):
    p = pool("import sys; sys.exit(3)")
    try:
        with caplog.at_level(logging.WARNING, logger="horizon"):
            p.scale(1)
            assert settle(p, lambda: p.crashes >= 3, timeout=10)
        messages = [r.getMessage() for r in caplog.records]
        assert any("crashed with status 3" in m and "(2 in a row); restarting in 1s" in m for m in messages)
        assert any("(3 in a row); restarting in 2s" in m for m in messages)
        assert p.next_start > time.monotonic()  # waiting, not spinning
    finally:
        p.terminate()
        settle(p, lambda: p.alive() == 0)


def test_a_worker_that_ignores_sigterm_is_killed_after_its_timeout_and_grace(monkeypatch):
    import app.Horizon.ProcessPool as module

    monkeypatch.setattr(module, "KILL_GRACE", 0.3)
    p = pool("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)",
             stop_timeout=0.2)
    p.scale(1)
    time.sleep(0.5)  # let it install SIG_IGN
    p.scale(0)
    assert settle(p, lambda: p.alive() == 0, timeout=5)
