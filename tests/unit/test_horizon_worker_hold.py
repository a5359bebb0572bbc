"""The worker's side of horizon:pause: SIGUSR2 holds it (no queue is worked), SIGCONT lets it go on at once."""
from __future__ import annotations

import os
import signal
import threading

from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob


def test_sigusr2_holds_the_worker_and_sigcont_releases_it(queue_env, witness):
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2, signal.SIGCONT)
    saved = {sig: signal.getsignal(sig) for sig in signals}
    worker = Worker(queue_env, WorkerOptions(sleep=0.05, stop_when_empty=False))
    worker.signals.listen()
    thread: threading.Thread | None = None
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert worker._active_queues("database", ["default"]) == []
        RecordJob.dispatch(str(witness))
        done = threading.Event()

        def run() -> None:
            worker.daemon("database", ["default"])
            done.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert not done.wait(0.5) and read_lines(witness) == []  # held: the job waits
        os.kill(os.getpid(), signal.SIGCONT)
        assert worker._active_queues("database", ["default"]) == ["default"]
        for _ in range(100):
            if read_lines(witness):
                break
            done.wait(0.05)
        assert len(read_lines(witness)) == 1
    finally:
        worker.should_quit = True
        worker.signals.wake.set()
        if thread is not None:
            thread.join(5)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
