"""Helpers for the dashboard tests: an API client on the ASGI app, and a store seeded by real workers."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.Horizon.Auth import AccessPolicy
from app.Horizon.DashboardApp import create_app
from app.Queue.QueueManager import manager
from tests.support import start_worker, stop, wait_until

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what its test client runs on here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def client(policy: AccessPolicy | None = None) -> TestClient:
    """A test client on a dashboard open like a local, loopback one (unless `policy` says otherwise)."""
    return TestClient(create_app(manager(), "127.0.0.1", policy or AccessPolicy(True, None, None)))


def csrf(c: TestClient) -> dict[str, str]:
    """Headers carrying the CSRF token every POST needs."""
    return {"X-CSRF-Token": c.get("/horizon/api/csrf").json()["token"]}


@dataclass
class Seeded:
    """What the seeding dispatched and what the workers made of it."""

    completed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> uuid
    vault: str = ""
    card: str = ""
    batch_id: str = ""
    pending: list[str] = field(default_factory=list)
    delayed: str = ""


SECRET = "hunter2-plaintext"
CARD = "4111111111111111"


def seed(connection: str, tmp: Path, env: dict[str, str]) -> tuple[Seeded, Any]:
    """Dispatch tagged, failing, flaky, encrypted and batched jobs, run them with a real worker (left running),
    then queue a few that stay pending. Returns the ids and the running worker process."""
    from app.Jobs.Batch import batch
    from tests.fixtures import dashboard_jobs as dj

    empty_dashboard_tables()
    witness, marker = str(tmp / "witness.log"), str(tmp / "flaky.marker")
    s = Seeded()
    s.completed = [str(dj.TaggedJob(witness, n, ["<script>alert(1)</script>"]).on_connection(connection).dispatch())
                   for n in range(3)]
    s.failed["AlwaysFailsJob"] = str(dj.AlwaysFailsJob(witness, 7).on_connection(connection).dispatch())
    s.failed["FlakyJob"] = str(dj.FlakyJob(witness, marker).on_connection(connection).dispatch())
    s.vault = str(dj.VaultJob(witness, SECRET).on_connection(connection).dispatch())
    s.card = str(dj.CardJob(witness, "order-1", CARD).on_connection(connection).dispatch())
    s.batch_id = str(batch([dj.BatchPart(witness, 1), dj.BatchPart(witness, 2, True), dj.BatchPart(witness, 3)])
                     .name("nightly-import").on_connection(connection).dispatch())
    worker = start_worker([connection, "--sleep=0.1"], env=env, log=tmp / "worker.log")
    qm = manager()
    assert wait_until(lambda: qm.size("default", connection) == 0 and qm.failed.count() >= 3, timeout=60), \
        (tmp / "worker.log").read_text()
    assert wait_until(lambda: len(client().get("/horizon/api/jobs/completed").json()["items"]) >= 7, timeout=20)
    qm.connection(connection)  # the worker is busy-idle now; queue jobs on a queue it does not take
    s.pending = [str(dj.TaggedJob(witness, 100 + n, ["waiting"]).on_queue("later").on_connection(connection).dispatch())
                 for n in range(2)]
    s.pending.append(str(dj.VaultJob(witness, SECRET).on_queue("later").on_connection(connection).dispatch()))
    s.delayed = str(dj.TaggedJob(witness, 200).on_queue("later").on_connection(connection).delay(3600).dispatch())
    return s, worker


def empty_dashboard_tables() -> None:
    """Empty the tables a shared test database keeps between tests (MariaDB empties only the queue tables)."""
    from sqlalchemy import delete

    from app.Horizon.tables import completed_jobs, job_tags
    from app.Queue.Database.metrics_tables import job_metrics

    with manager().engine().begin() as conn:
        conn.execute(delete(completed_jobs))
        conn.execute(delete(job_metrics))
        conn.execute(delete(job_tags))


def stop_worker(worker: Any) -> None:
    stop(worker)
