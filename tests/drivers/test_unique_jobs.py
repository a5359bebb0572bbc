"""Unique jobs on every backend: one queued copy per key, and the lock is freed on every way out."""
from __future__ import annotations

import base64
import json
import signal
from datetime import timedelta

import pytest
from cleo.testers.command_tester import CommandTester
from freezegun import freeze_time

from app.Jobs.UniqueLock import lock_key
from app.Queue.errors import QueueFullError
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.drivers.conftest import cluster_backend
from tests.fixtures.feature_jobs import (ClassUniqueJob, SlowUniqueJob, UniqueDeleteThenRaiseJob, UniqueIgnoresTimeoutJob,
                                        UniqueJob, UntilProcessingJob)
from tests.support import start_worker, stop, wait_until

backend = cluster_backend  # this file also runs on a Redis Cluster (id "redis-cluster")


def work(backend: Backend, **options) -> None:
    opts = {"stop_when_empty": True, "sleep": 0, **options}
    Worker(backend.manager, WorkerOptions(memory=0, **opts)).daemon(backend.connection, ["default"])


def test_duplicate_dispatch_returns_none_and_stores_nothing(backend: Backend, witness):
    first = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    second = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    other = UniqueJob(witness, 8).on_connection(backend.connection).dispatch()
    assert first is not None and other is not None and second is None
    assert backend.manager.size("default", backend.connection) == 2


def test_default_unique_id_makes_the_class_unique(backend: Backend):
    assert ClassUniqueJob().on_connection(backend.connection).dispatch() is not None
    assert ClassUniqueJob().on_connection(backend.connection).dispatch() is None


def test_bulk_refuses_duplicates_within_the_batch(backend: Backend, witness):
    ids = backend.manager.bulk([UniqueJob(witness, 1), UniqueJob(witness, 1), UniqueJob(witness, 2)], connection=backend.connection)
    assert ids[0] is not None and ids[1] is None and ids[2] is not None
    assert backend.manager.size("default", backend.connection) == 2


def test_lock_is_released_when_the_job_succeeds(backend: Backend, witness):
    job_id = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    work(backend)
    assert read_lines(witness) == [f"unique 7 {job_id}"]
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None


def test_lock_is_kept_between_retries_and_released_on_permanent_failure(backend: Backend, witness):
    UniqueJob(witness, 7, fail=True).on_connection(backend.connection).dispatch()
    Worker(backend.manager, WorkerOptions(memory=0, max_tries=2, sleep=0, backoff=(30,))).run_next_job(backend.connection, ["default"])
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is None  # released for a retry: still held
    with freeze_time(timedelta(seconds=31)):
        work(backend, max_tries=2)
    assert len(backend.manager.failed.all()) == 1
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None


def test_lock_is_released_when_the_job_deletes_itself_then_raises(backend: Backend, witness):
    job_id = UniqueDeleteThenRaiseJob(witness, 7).on_connection(backend.connection).dispatch()
    work(backend)
    assert read_lines(witness) == [f"delete 7 {job_id}"]
    assert backend.manager.size("default", backend.connection) == 0 and backend.manager.failed.all() == []
    assert UniqueDeleteThenRaiseJob(witness, 7).on_connection(backend.connection).dispatch() is not None


def test_lock_is_released_when_the_payload_cannot_be_decoded(backend: Backend, witness, monkeypatch):
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    job_id = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    other = UniqueJob(witness, 8).on_connection(backend.connection).dispatch()
    monkeypatch.setenv("APP_KEY", "base64:" + base64.b64encode(b"r" * 32).decode())  # a key rotated without APP_PREVIOUS_KEYS
    env_mod.reload()
    manager().reset()
    Worker(backend.manager, WorkerOptions(sleep=0)).run_next_job(backend.connection, ["default"])
    failed = backend.manager.failed.all()  # unverified: a fresh uuid names the row, the claimed one is quoted
    assert len(failed) == 1 and failed[0].uuid != job_id and job_id in failed[0].exception and read_lines(witness) == []
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None
    assert UniqueJob(witness, 8).on_connection(backend.connection).dispatch() is None  # only that copy's lock went
    assert other is not None


@pytest.mark.parametrize("forged", ["", "not-a-uuid", "a prefix of the uuid"])
def test_an_undecodable_copy_with_a_malformed_uuid_frees_no_lock(backend: Backend, witness, forged):
    job_id = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    claimed = job_id[:-1] if forged == "a prefix of the uuid" else forged
    driver = backend.manager.connection(backend.connection)
    driver.clear("default")  # only the planted record is left to refuse; the lock stays held
    driver.push(json.dumps({"uuid": claimed, "job": "tests.fixtures.feature_jobs:UniqueJob"}), "default")
    Worker(backend.manager, WorkerOptions(sleep=0)).run_next_job(backend.connection, ["default"])
    assert len(backend.manager.failed.all()) == 1  # refused, and its claim matched no lock
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is None


@pytest.mark.slow
def test_lock_is_released_when_a_hard_timeout_fails_the_job(backend: Backend, witness, tmp_path):
    job_id = UniqueIgnoresTimeoutJob(witness).on_connection(backend.connection).dispatch()
    proc = start_worker([backend.connection, "--sleep=0.1"], env=backend.env, log=tmp_path / "worker.log")
    try:
        assert proc.wait(30) != 0  # the heartbeat ends the process
    finally:
        stop(proc)
    assert "ignored timeout" in read_lines(witness)
    assert [f.uuid for f in backend.manager.failed.all()] == [job_id]
    assert UniqueIgnoresTimeoutJob(witness).on_connection(backend.connection).dispatch() is not None


def test_until_processing_lock_is_released_when_the_job_starts(backend: Backend, witness):
    UntilProcessingJob(witness).on_connection(backend.connection).dispatch()
    assert UntilProcessingJob(witness).on_connection(backend.connection).dispatch() is None
    Worker(backend.manager, WorkerOptions(memory=0, sleep=0)).run_next_job(backend.connection, ["default"])
    line = read_lines(witness)[0]
    assert "copy=None" not in line  # the copy dispatched from inside handle was accepted


def test_unique_for_bounds_the_lock(backend: Backend, witness):
    with freeze_time() as clock:
        assert UniqueJob(witness, 7, hold=60).on_connection(backend.connection).dispatch() is not None
        clock.tick(59)
        assert UniqueJob(witness, 7, hold=60).on_connection(backend.connection).dispatch() is None
        clock.tick(2)
        assert UniqueJob(witness, 7, hold=60).on_connection(backend.connection).dispatch() is not None


def test_queue_clear_releases_the_locks_of_cleared_jobs(backend: Backend, witness):
    from app.Console.Commands.QueueClear import QueueClearCommand

    UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    tester = CommandTester(QueueClearCommand())
    assert tester.execute(f"{backend.connection} --queue=default --force") == 0
    assert backend.manager.size("default", backend.connection) == 0
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None


def test_queue_forget_releases_the_lock_a_failed_record_still_holds(backend: Backend, witness):
    from app.Console.Commands.QueueForget import QueueForgetCommand

    job_id = UniqueJob(witness, 7).on_connection(backend.connection).dispatch()
    reserved = backend.driver().pop("default", "test")  # as if the worker died between logging the failure and its listeners
    backend.manager.failed.log(backend.connection, "default", reserved.payload, "RuntimeError: x", job_id)
    reserved.delete()
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is None
    assert CommandTester(QueueForgetCommand()).execute(job_id) == 0
    assert UniqueJob(witness, 7).on_connection(backend.connection).dispatch() is not None


def test_a_push_refused_for_capacity_takes_no_lock(backend: Backend, witness):
    backend.manager.define_queue("small", connection=backend.connection, max_jobs=1)
    UniqueJob(witness, 1).on_queue("small").dispatch()
    with pytest.raises(QueueFullError, match="max_jobs=1"):
        UniqueJob(witness, 2).on_queue("small").dispatch()
    assert backend.manager.locks.owner(lock_key(UniqueJob(witness, 2))) is None


def test_sync_connection_releases_the_lock_after_running(queue_env, witness):
    assert UniqueJob(witness, 7).on_connection("sync").dispatch() is not None
    assert UniqueJob(witness, 7).on_connection("sync").dispatch() is not None
    assert len(read_lines(witness)) == 2


@pytest.mark.slow
def test_sigkilled_worker_leaves_the_lock_only_until_unique_for(backend: Backend, witness, tmp_path):
    job_id = SlowUniqueJob(witness, hold=120).on_connection(backend.connection).dispatch()
    proc = start_worker([backend.connection, "--sleep=0.1", "--timeout=0"], env=backend.env, log=tmp_path / "worker.log")
    try:
        assert wait_until(lambda: f"start {job_id}" in read_lines(witness), timeout=30)
    finally:
        stop(proc, signal.SIGKILL)
    assert SlowUniqueJob(witness, hold=120).on_connection(backend.connection).dispatch() is None
    with freeze_time(timedelta(seconds=121)):
        assert SlowUniqueJob(witness, hold=120).on_connection(backend.connection).dispatch() is not None
