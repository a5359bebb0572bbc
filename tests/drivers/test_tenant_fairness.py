"""Tenants: a job carries its tenant, the worker restores it before handle, and a flood from one
tenant cannot starve another on a fair queue (weighted round robin), on every driver.

The bound proved: with tenants A (flooding, 2,000 jobs queued first) and B (10 jobs queued after
them), both of weight 1, B's k-th job starts by the 2k-th job the worker takes; with weight 3
for A, by the 4k-th.
"""
from __future__ import annotations

import pytest

from app.Queue.QueueManager import manager
from app.Tenancy.TenantContext import current_tenant, on_tenant_enter, resolve_tenants_with
from config import env as env_mod
from tests.core_helpers import keep_signal_handlers, work  # noqa: F401 (autouse fixture)
from tests.drivers.conftest import Backend
from tests.fixtures import tenant_jobs
from tests.fixtures.tenant_jobs import TenantRecordJob

FLOOD = 2000


def _fair(backend: Backend, monkeypatch, weights: dict[str, int] | None = None):
    monkeypatch.setenv("QUEUE_FAIR_QUEUES", "default")
    env_mod.reload()
    qm = manager()
    qm.reset()
    if weights:
        qm.config["tenancy"]["weights"].update(weights)
        qm.reset(qm.config)
    return qm


@pytest.mark.parametrize("weight_a, bound", [(1, 2), (3, 4)])
def test_a_flooding_tenant_cannot_starve_another(backend: Backend, monkeypatch, tmp_path, weight_a, bound):
    qm = _fair(backend, monkeypatch, {"A": weight_a})
    conn = backend.connection
    witness = tmp_path / "w"
    qm.bulk([TenantRecordJob(str(witness), "a").for_tenant("A") for _ in range(FLOOD)], connection=conn)
    qm.bulk([TenantRecordJob(str(witness), "b").for_tenant("B") for _ in range(10)], connection=conn)
    assert qm.connection(conn).sizes("default").total == FLOOD + 10
    work(qm, ["default"], conn, max_jobs=bound * 10)
    order = [line.split()[0] for line in witness.read_text().splitlines()]
    b_positions = [i + 1 for i, tag in enumerate(order) if tag == "b"]
    assert len(b_positions) == 10
    assert all(pos <= bound * k for k, pos in enumerate(b_positions, start=1)), b_positions
    assert qm.connection(conn).sizes("default").total == FLOOD + 10 - bound * 10


def test_the_worker_restores_the_tenant_before_handle_and_resets_it_after(backend: Backend, monkeypatch, tmp_path):
    qm = _fair(backend, monkeypatch)
    conn = backend.connection
    witness = tmp_path / "w"
    tenant_jobs.entered.clear()
    on_tenant_enter(tenant_jobs.remember_tenant)
    TenantRecordJob(str(witness), "own").for_tenant(7).on_connection(conn).dispatch()
    resolve_tenants_with(lambda: "resolved")
    TenantRecordJob(str(witness), "resolver").on_connection(conn).dispatch()
    resolve_tenants_with(lambda: None)
    TenantRecordJob(str(witness), "none").on_connection(conn).dispatch()
    work(qm, ["default"], conn)
    lines = sorted(witness.read_text().splitlines())
    assert lines == ["none None None", "own 7 7", "resolver resolved resolved"]
    assert sorted(tenant_jobs.entered, key=str) == sorted(["7", "resolved", None], key=str)
    assert current_tenant() is None


def test_sizes_and_clear_cover_every_tenant_and_one_tenant_alone(backend: Backend, monkeypatch, tmp_path):
    qm = _fair(backend, monkeypatch)
    conn = backend.connection
    qm.bulk([TenantRecordJob(str(tmp_path), "a").for_tenant("A") for _ in range(3)], connection=conn)
    qm.bulk([TenantRecordJob(str(tmp_path), "b").for_tenant("B") for _ in range(2)], connection=conn)
    driver = qm.connection(conn)
    assert driver.sizes("default").pending == 5 and driver.sizes("default@B").pending == 2
    assert driver.queues() == ["default"]
    assert driver.clear("default@A") == 3
    assert driver.clear("default") == 2


def test_prefetch_on_a_fair_queue_says_it_reserves_one_at_a_time(backend: Backend, monkeypatch, tmp_path, caplog):
    qm = _fair(backend, monkeypatch)
    witness = tmp_path / "w"
    qm.bulk([TenantRecordJob(str(witness), "a").for_tenant("A") for _ in range(3)], connection=backend.connection)
    with caplog.at_level("WARNING", logger="queue.worker"):
        work(qm, connection=backend.connection, prefetch=10)
    said = [r.getMessage() for r in caplog.records if "--prefetch" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("--prefetch=10 is not available on this connection (Fair")
    assert said[0].endswith("); jobs are reserved one at a time")
    assert len(witness.read_text().splitlines()) == 3  # every job still ran
