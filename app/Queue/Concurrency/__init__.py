"""Run several jobs at once in one worker process (`queue:work --concurrency=N`).

`def handle` jobs run on a pool of threads (ThreadSlots), `async def handle` jobs as tasks
on one event loop (AsyncSlots); a LeaseKeeper renews every in-flight job's lease and ends
attempts that pass their deadline. ConcurrentWorker ties them to the Worker's per-job
policy (attempts, backoff, failures, events), so each job keeps its own guarantees.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from app.Queue.Worker import Worker

MAX_CONCURRENCY = 1000  # beyond this a process spends its time switching threads, not running jobs


def run_concurrently(worker: Worker, connection: str, queues: Sequence[str]) -> int:
    """Work `queues` with up to `worker.options.concurrency` jobs in flight; returns the exit status."""
    from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker  # lazy: it subclasses Worker, which calls this

    concurrent = ConcurrentWorker(worker.manager, worker.options, worker.signals.sleeper)
    worker.worker_id = concurrent.worker_id
    return concurrent.daemon(connection, queues)
