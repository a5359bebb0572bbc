"""Run several jobs at once in one worker process (`queue:work --concurrency=N`).

`def handle` jobs run on a pool of threads (ThreadSlots, or ClaimingWorker's threads that
claim their own jobs), `async def handle` jobs as tasks on one event loop (AsyncSlots); a
LeaseKeeper renews every in-flight job's lease and ends attempts that pass their deadline. ConcurrentWorker ties them to the Worker's per-job
policy (attempts, backoff, failures, events), so each job keeps its own guarantees.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from app.Queue.Support.malloc_arenas import cap_arenas

if TYPE_CHECKING:
    from app.Queue.Worker import Worker

MAX_CONCURRENCY = 1000  # beyond this a process spends its time switching threads, not running jobs


def run_concurrently(worker: Worker, connection: str, queues: Sequence[str]) -> int:
    """Work `queues` with up to `worker.options.concurrency` jobs in flight; returns the exit status."""
    from app.Queue.Concurrency.ClaimingWorker import ClaimingWorker  # lazy: they subclass Worker, which calls this
    from app.Queue.Concurrency.ConcurrentWorker import ConcurrentWorker
    from app.Queue.Reservations.SlotSources import per_slot

    # Slots claim their own jobs where the driver gives each thread a connection (Redis); under --prefetch,
    # and on databases, the main thread reserves for all of them (in batches).
    claiming = worker.options.prefetch <= 1 and per_slot(worker.manager.connection(connection))
    kind = ClaimingWorker if claiming else ConcurrentWorker
    cap_arenas()  # before the slot threads start: many threads, many fragmented arenas otherwise
    concurrent = kind(worker.manager, worker.options, worker.signals.sleeper)
    worker.worker_id = concurrent.worker_id
    return concurrent.daemon(connection, queues)
