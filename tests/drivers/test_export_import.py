"""queue:export / queue:import move every job between drivers with nothing lost and nothing run twice.

For each ordered (source, target) pair of sqlite, mariadb, pgsql and redis, jobs (70 % pending,
20 % delayed, the rest failed, and a batch of which half has run) are exported from the source
while it holds them, imported into an empty target, and run there: every job runs exactly once
(the witness file holds each job's uuid once) and the batch's `then` callback runs once.

Every pair moves 10,000 jobs (EXPORT_TEST_JOBS, as the issue asks: from each driver into each other).
"""
from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone
from collections import Counter
from pathlib import Path

import pytest
from freezegun import freeze_time

from app.Jobs.Batch import batch
from app.Queue.Backup.Export import export, import_keys
from app.Queue.Backup.Restore import restore
from app.Queue.Backup.SignedLines import read_verified
from app.Queue.FailedRetrier import retry_failed
from tests.core_helpers import work
from tests.drivers.backup_support import connection_of, leftovers, start_servers, use_store
from tests.fixtures.batch_jobs import Work, on_then
from tests.fixtures.jobs import RecordJob

STORES = ["sqlite", "mariadb", "pgsql", "redis"]
TOTAL = int(os.environ.get("EXPORT_TEST_JOBS", "10000"))
PAIRS = [(a, b, TOTAL) for a in STORES for b in STORES if a != b]
BATCH_SIZE = 10
DELAY = 600  # seconds the delayed jobs wait: still delayed when exported and imported; the run then jumps past it


def _fill(qm, connection: str, witness: Path, total: int) -> tuple[set[str], str]:
    """Store `total` jobs: 70 % pending, 20 % delayed, the rest failed, plus a batch half run; returns the uuids to run."""
    delayed_n = total // 5
    failed_n = total // 10 - BATCH_SIZE
    pending_n = total - delayed_n - failed_n - BATCH_SIZE
    uuids = set(qm.bulk([RecordJob(str(witness), "pending") for _ in range(pending_n)], connection=connection))
    uuids |= set(qm.bulk([RecordJob(str(witness), "delayed").delay(DELAY) for _ in range(delayed_n)], connection=connection))
    for _ in range(failed_n):
        job_uuid, payload = qm.codec.create(RecordJob(str(witness), "failed"), "default", connection)
        qm.failed.log(connection, "default", payload, "RuntimeError: failed before the export", job_uuid)
        uuids.add(job_uuid)
    batch_id = batch([Work(str(witness), f"member{i}") for i in range(BATCH_SIZE)]).then(on_then).on_queue("batch").on_connection(connection).dispatch()
    work(qm, ["batch"], connection, max_jobs=BATCH_SIZE // 2)  # half the batch runs on the source
    return {u for u in uuids if u}, batch_id


def _ran(witness: Path) -> tuple[Counter[str], Counter[str]]:
    """Count runs per job uuid (RecordJob writes `tag uuid attempts`) and per batch member (Work: `ran tag uuid`)."""
    runs: Counter[str] = Counter()
    members: Counter[str] = Counter()
    for line in witness.read_text().splitlines():
        parts = line.split()
        if parts[0] == "ran":
            members[parts[1]] += 1
        else:
            runs[parts[1]] += 1
    return runs, members


@pytest.mark.parametrize(("source", "target", "total"), PAIRS, ids=[f"{a}-to-{b}-{n}" for a, b, n in PAIRS])
def test_export_from_one_driver_and_import_into_another_runs_every_job_exactly_once(
        source, target, total, request, monkeypatch, tmp_path):
    witness = tmp_path / "witness.log"
    callbacks = tmp_path / "callbacks.log"
    monkeypatch.setenv("BATCH_WITNESS", str(callbacks))
    start_servers([source, target], request)
    qm = use_store(source, request, monkeypatch, tmp_path)
    src = connection_of(source)
    expected, batch_id = _fill(qm, src, witness, total)
    assert sum(_ran(witness)[1].values()) == BATCH_SIZE // 2
    out = io.StringIO()
    counts = export(qm, src, out, include_failed=True, include_batches=True)
    assert counts == {"job": total - total // 10 + BATCH_SIZE // 2, "failed": total // 10 - BATCH_SIZE, "batch": 1}

    qm = use_store(target, request, monkeypatch, tmp_path)
    dst = connection_of(target)
    verified = read_verified(io.StringIO(out.getvalue()), import_keys())
    report = restore(qm, verified, dst)
    assert (report.jobs, report.failed, report.batches, report.skipped) == (
        counts["job"], counts["failed"], 1, 0)
    again = restore(qm, read_verified(io.StringIO(out.getvalue()), import_keys()), dst)
    assert again.already_imported and again.jobs == 0  # the same file twice adds nothing
    assert qm.connection(dst).sizes("default").delayed == total // 5  # still delayed after the move

    assert retry_failed(qm, qm.failed.ids(), lambda ident: None) == total // 10 - BATCH_SIZE
    with freeze_time(datetime.now(timezone.utc) + timedelta(seconds=DELAY + 5), tick=True):
        work(qm, ["default", "batch"], dst, prefetch=50)

    runs, members = _ran(witness)
    assert set(runs) == expected and all(n == 1 for n in runs.values()), \
        {u: n for u, n in runs.items() if n != 1 or u not in expected}
    assert members == Counter({f"member{i}": 1 for i in range(BATCH_SIZE)})
    assert callbacks.read_text().splitlines() == [f"then {batch_id} processed={BATCH_SIZE} failed=0"]
    assert leftovers(qm, dst, ["default", "batch"]) == {"jobs": {"default": 0, "batch": 0}, "failed": 0}

