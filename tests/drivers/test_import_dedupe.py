"""queue:import never duplicates a job, failed job or batch already present, on every driver."""
from __future__ import annotations

import io

from app.Jobs.Batch import batch
from app.Queue.Backup.Export import export, import_keys
from app.Queue.Backup.Restore import ledger_key, restore
from app.Queue.Backup.SignedLines import read_verified
from tests.drivers.conftest import Backend
from tests.fixtures.batch_jobs import Work
from tests.fixtures.jobs import RecordJob


def test_importing_into_a_store_that_holds_the_jobs_adds_nothing(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    qm.bulk([RecordJob(str(tmp_path / "w"), str(i)) for i in range(20)], connection=conn)
    RecordJob(str(tmp_path / "w"), "later").delay(600).on_connection(conn).dispatch()
    job_uuid, payload = qm.codec.create(RecordJob(str(tmp_path / "w"), "f"), "default", conn)
    qm.failed.log(conn, "default", payload, "RuntimeError: x", job_uuid)
    batch([Work(str(tmp_path / "w"), "m")]).on_queue("b").on_connection(conn).dispatch()
    out = io.StringIO()
    assert export(qm, conn, out, include_failed=True, include_batches=True) == {"job": 22, "failed": 1, "batch": 1}

    report = restore(qm, read_verified(io.StringIO(out.getvalue()), import_keys()), conn)
    assert (report.jobs, report.failed, report.batches, report.skipped) == (0, 0, 0, 24)
    assert qm.connection(conn).sizes("default").total == 21 and qm.connection(conn).sizes("b").total == 1


def test_an_import_cut_short_is_resumed_by_running_it_again(backend: Backend, tmp_path):
    qm, conn = backend.manager, backend.connection
    qm.bulk([RecordJob(str(tmp_path / "w"), str(i)) for i in range(10)], connection=conn)
    out = io.StringIO()
    export(qm, conn, out)
    qm.connection(conn).clear("default")
    assert qm.connection(conn).sizes("default").total == 0
    verified = read_verified(io.StringIO(out.getvalue()), import_keys())
    partial = read_verified(io.StringIO(out.getvalue()), import_keys())
    partial.records = partial.records[:4]  # as if the import stopped after four jobs
    assert restore(qm, partial, conn).jobs == 4
    qm.cache.forget(ledger_key(verified.export_id))  # an import cut short never reached its ledger entry
    report = restore(qm, verified, conn)
    assert (report.jobs, report.skipped) == (6, 4)
    assert qm.connection(conn).sizes("default").total == 10
