"""Helpers shared by the core lifecycle tests: run an in-process worker, read the tables."""
from __future__ import annotations

import signal
from typing import Any, Iterator, Sequence

import pytest

from sqlalchemy import select

from app.Queue.Database.tables import failed_jobs, jobs
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions


def work(qm: Any, queues: Sequence[str] = ("default",), connection: str = "database", **options: Any) -> Worker:
    """Run a real worker in this process until nothing is available now; returns it."""
    opts = dict(stop_when_empty=True, sleep=0, memory=0)
    opts.update(options)
    worker = Worker(qm, WorkerOptions(**opts))
    assert worker.daemon(connection, list(queues)) == 0
    return worker


def job_rows(qm: Any) -> list[dict[str, Any]]:
    with qm.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(jobs).order_by(jobs.c.id))]


def failed_rows(qm: Any) -> list[dict[str, Any]]:
    with qm.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(failed_jobs).order_by(failed_jobs.c.id))]


@pytest.fixture(autouse=True)
def keep_signal_handlers() -> Iterator[None]:
    """In-process workers install SIGTERM/SIGINT handlers; give pytest its own back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
