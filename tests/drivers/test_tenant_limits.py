"""Per-tenant rate limits and concurrency caps (config/queue.py `tenancy`), on every driver."""
from __future__ import annotations

from freezegun import freeze_time

from app.Queue.QueueManager import manager
from tests.conftest import read_lines
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.drivers.conftest import Backend
from tests.fixtures.tenant_jobs import TenantRecordJob


def _with_tenancy(backend: Backend, **tenancy):
    qm = manager()
    config = dict(qm.config)
    config["tenancy"] = {**config["tenancy"], **tenancy}
    qm.reset(config)
    return qm


def _ran(witness) -> list[str]:
    return [line.split()[0] for line in read_lines(witness)]


def test_a_tenant_over_its_rate_limit_waits_while_others_run(backend: Backend, tmp_path):
    qm = _with_tenancy(backend, rate_limits={"A": (2, 60)})
    conn, witness = backend.connection, tmp_path / "w"
    with freeze_time() as clock:
        qm.bulk([TenantRecordJob(str(witness), "a").for_tenant("A") for _ in range(5)], connection=conn)
        qm.bulk([TenantRecordJob(str(witness), "b").for_tenant("B") for _ in range(2)], connection=conn)
        work(qm, ["default"], conn)
        assert sorted(_ran(witness)) == ["a", "a", "b", "b"]
        sizes = qm.connection(conn).sizes("default")
        assert (sizes.pending, sizes.delayed) == (0, 3)  # released until the window frees, attempts untouched
        clock.tick(65)  # the window (60 s) has passed, and the released jobs are due (whole seconds, rounded up)
        work(qm, ["default"], conn)
        assert _ran(witness).count("a") == 4


def test_a_tenant_at_its_concurrency_cap_waits_and_its_slot_is_freed_after_each_job(backend: Backend, tmp_path):
    qm = _with_tenancy(backend, concurrency={"A": 1})
    conn, witness = backend.connection, tmp_path / "w"
    with freeze_time() as clock:
        assert qm.locks.acquire("tenant-slot:A:0", "another-worker", 600)  # A's one slot is busy elsewhere
        qm.bulk([TenantRecordJob(str(witness), "a").for_tenant("A") for _ in range(2)], connection=conn)
        TenantRecordJob(str(witness), "b").for_tenant("B").on_connection(conn).dispatch()
        work(qm, ["default"], conn)
        assert _ran(witness) == ["b"]
        assert qm.locks.release("tenant-slot:A:0", "another-worker")
        clock.tick(5)
        work(qm, ["default"], conn)
        assert _ran(witness) == ["b", "a", "a"]
        assert qm.locks.owner("tenant-slot:A:0") is None  # released after each job
