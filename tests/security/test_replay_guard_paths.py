"""The replay guard on every path: a fresh worker process, batch mode, another queue, and on Redis without a status read."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.Queue.Drivers.RedisQueue import DONE_REFRESH
from app.Queue.Support.time import now
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Boom, Mark
from tests.security.store import plant, queue_keys, queued, raw_redis, stored_payloads, work
from tests.support import artisan


def _work_in_new_process(backend: Backend, *options: str, queue: str = "default") -> None:
    """A worker that never saw the original run (no memory of it in the process)."""
    done = artisan("queue:work", backend.connection, f"--queue={queue}", "--stop-when-empty", "--sleep=0", *options,
                   env=backend.env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("options", [(), ("--prefetch=10",)], ids=["default", "prefetch"])
def test_a_replay_is_refused_by_a_worker_process_that_did_not_run_the_original(backend: Backend, witness: Path,
                                                                               options: tuple[str, ...]):
    Mark(witness, "once").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    work(backend)
    plant(backend, payload)
    plant(backend, payload)
    _work_in_new_process(backend, *options)
    assert read_lines(witness) == ["once"] and queued(backend) == 0
    assert backend.manager.failed.count() == 0


def test_a_copy_reserved_in_the_same_batch_as_its_original_runs_once(backend: Backend, witness: Path):
    Mark(witness, "batched").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    plant(backend, payload)
    plant(backend, payload)
    work(backend, prefetch=10)
    assert read_lines(witness) == ["batched"] and queued(backend) == 0


def test_a_completed_payload_planted_on_another_queue_is_not_run(backend: Backend, witness: Path):
    """The Redis done set is per queue; a payload naming another queue falls back to its status record."""
    Mark(witness, "moved").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    work(backend)
    plant(backend, payload, queue="other")
    _work_in_new_process(backend, queue="other")
    assert read_lines(witness) == ["moved"] and queued(backend, "other") == 0


@pytest.mark.parametrize("prefetch", [1, 10])
def test_on_redis_the_guard_reads_no_status_record(backend: Backend, witness: Path, monkeypatch: pytest.MonkeyPatch,
                                                   prefetch: int):
    """The claim script answers whether a payload completed: no per-job read of `status:<uuid>`."""
    if backend.name != "redis":
        pytest.skip("the database drivers read the status record (one indexed read on a held connection)")
    for i in range(20):
        Mark(witness, f"j{i}").on_connection(backend.connection).dispatch()
    store = backend.manager.statuses.store
    reads: list[str] = []
    real_get, real_many = store.get, getattr(store, "many", None)

    def get(key: str, *args: Any) -> Any:
        reads.append(key)
        return real_get(key, *args)

    monkeypatch.setattr(store, "get", get)
    if real_many is not None:
        monkeypatch.setattr(store, "many", lambda keys, *a: (reads.extend(keys), real_many(keys, *a))[1])
    work(backend, prefetch=prefetch)
    assert len(read_lines(witness)) == 20
    assert [k for k in reads if k.startswith("status:")] == []


def test_on_redis_a_completed_job_leaves_a_done_marker_until_the_status_ttl_and_a_failed_one_none(backend: Backend,
                                                                                                  witness: Path):
    if backend.name != "redis":
        pytest.skip("the done set is the Redis driver's")
    Mark(witness, "ok").on_connection(backend.connection).dispatch()
    signature = stored_payloads(backend)[0][-66:-2]
    work(backend)
    client, keys = raw_redis(backend), queue_keys(backend)
    try:
        until = client.zscore(keys.done, signature)
        assert until is not None and abs(until - (now() + backend.manager.statuses.ttl)) < 60
        # the set outlives the marker; its writer stretches it DONE_REFRESH seconds ahead (LuaScripts mark_done)
        assert backend.manager.statuses.ttl <= client.ttl(keys.done) <= backend.manager.statuses.ttl + DONE_REFRESH + 2
        Boom(str(witness)).on_connection(backend.connection).dispatch()
        failed_signature = stored_payloads(backend)[0][-66:-2]
        work(backend)
        assert backend.manager.failed.count() == 1
        assert client.zscore(keys.done, failed_signature) is None  # a failed payload may be retried
    finally:
        client.close()



def test_on_redis_a_redelivery_whose_ack_never_arrived_is_checked_against_the_status_record(backend: Backend,
                                                                                           witness: Path):
    """A later attempt (here: the done marker gone, as when the ack was lost in an outage) still reads the status."""
    if backend.name != "redis":
        pytest.skip("the done set is the Redis driver's")
    Mark(witness, "acked-late").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    work(backend)
    backend.manager.statuses.flush()
    client, keys = raw_redis(backend), queue_keys(backend)
    try:
        client.delete(keys.done)  # the ack (and its marker) never reached the store
    finally:
        client.close()
    plant(backend, payload, attempts=1)  # back after its lease ran out: this reservation is attempt 2
    _work_in_new_process(backend)
    assert read_lines(witness) == ["acked-late"] and queued(backend) == 0


@pytest.mark.parametrize("prefetch", [0, 10], ids=["claims", "prefetch"])
def test_on_mariadb_and_pgsql_the_claim_reads_the_status_record_the_guard_checks(backend: Backend, witness: Path,
                                                                                monkeypatch: pytest.MonkeyPatch,
                                                                                prefetch: int):
    """After the first job, each claim (under --prefetch: each job's start) brings the job's status
    record: the copies are refused with no read of their own."""
    if backend.name not in ("mariadb", "pgsql"):
        pytest.skip("the status read rides on the one-round-trip claims of MySQL/MariaDB and PostgreSQL")
    from app.Queue.ReplayGuard import HeldStatusReader

    Mark(witness, "first").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    reads: list[str] = []
    real_fetch = HeldStatusReader._fetch
    monkeypatch.setattr(HeldStatusReader, "_fetch", lambda self, key: (reads.append(key), real_fetch(self, key))[1])
    work(backend, prefetch=prefetch)  # the first check reads on its own and has the driver read with its claims from then on
    assert len(reads) == 1
    backend.manager.statuses.flush()
    assert not backend.manager.statuses._buffer  # the guard must find the record in the table, not in memory
    for i in range(3):
        Mark(witness, f"new{i}").on_connection(backend.connection).dispatch()
    plant(backend, payload)
    plant(backend, payload)
    backend.manager._replay_recent.clear()  # as in a worker process that did not run the original
    work(backend, prefetch=prefetch)
    assert read_lines(witness) == ["first", "new0", "new1", "new2"] and queued(backend) == 0
    assert len(reads) == 1
