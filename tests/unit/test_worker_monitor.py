"""WorkerMonitor: the heartbeat's `current`, `slots` and counters, and the publisher reading memory outside its lock.

Every job takes the monitor's lock twice, on every slot thread of a concurrent worker; the
heartbeat thread once took it while reading /proc for the record's memory, and a slot
thread waiting for it held up the others behind it.
"""
from __future__ import annotations

import time

import app.Queue.WorkerRegistry as registry_module
from app.Queue.Concurrency.context_thread import start_thread
from app.Queue.Cache.DatabaseStore import DatabaseStore
from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased, WorkerStarting, WorkerStopping
from app.Queue.WorkerRegistry import RECORD_PREFIX, WorkerMonitor, WorkerRegistry
from tests.fixtures.jobs import NoopJob


def _job(uuid: str) -> tuple[NoopJob, dict[str, str]]:
    job = NoopJob()
    job.job_id = uuid
    return job, {"uuid": uuid, "queue": "default", "displayName": "NoopJob"}


def _monitor(queue_env) -> tuple[WorkerMonitor, DatabaseStore]:
    store = DatabaseStore(queue_env.engine())
    return WorkerMonitor(lambda: WorkerRegistry(store)), store


def test_current_is_the_oldest_running_job_and_the_counters_count_each_outcome(queue_env):
    monitor, store = _monitor(queue_env)
    monitor.on_worker_starting(WorkerStarting("w@h:1", "default", "database", ("default",), concurrency=3))
    try:
        events = {uuid: _job(uuid) for uuid in ("a", "b", "c", "d")}
        for uuid in ("a", "b", "c"):
            job, envelope = events[uuid]
            monitor.on_job_processing(JobProcessing(job, envelope, 1))
        state = monitor._state()
        assert state is not None
        record = state.record()
        assert record["current"]["uuid"] == "a" and [s["uuid"] for s in record["slots"]] == ["a", "b", "c"]

        job, envelope = events["a"]
        monitor.on_job_processed(JobProcessed(job, envelope, 1, 0.01))
        assert state.record()["current"]["uuid"] == "b"
        job, envelope = events["b"]
        monitor.on_job_failed(JobFailed(job, envelope, RuntimeError("x"), 0.01, 1))
        job, envelope = events["c"]
        monitor.on_job_released(JobReleased(job, envelope, 1, 0.0))
        job, envelope = events["d"]  # never seen starting (e.g. refused before it ran): counted, nothing to remove
        monitor.on_job_failed(JobFailed(job, envelope, RuntimeError("y"), 0.0, 1))
        monitor.on_job_failed(JobFailed(None, {}, RuntimeError("undecodable"), 0.0, 0))

        record = state.record()
        assert (record["current"], record["slots"]) == (None, [])
        assert (record["processed"], record["failed"], record["released"]) == (1, 3, 1)
    finally:
        monitor.on_worker_stopping(WorkerStopping(0, "empty"))
    assert store.get(RECORD_PREFIX + "w@h:1") is None  # left the registry


def test_the_heartbeat_reads_memory_outside_the_lock_the_jobs_take(queue_env, monkeypatch):
    monitor, store = _monitor(queue_env)
    held_while_reading: list[bool] = []
    real_rss = registry_module.rss_mb

    def rss_watched() -> float:
        held_while_reading.append(monitor._lock.locked())
        return real_rss()

    monkeypatch.setattr(registry_module, "rss_mb", rss_watched)
    monkeypatch.setattr(registry_module, "HEARTBEAT_INTERVAL", 0.02)
    monitor.on_worker_starting(WorkerStarting("w@h:2", "default", "database", ("default",), concurrency=2))
    try:
        job, envelope = _job("running-1")
        # the job starts on another thread of the same worker, as on a slot thread (started in a copy of its context)
        start_thread("test-slot", monitor.on_job_processing, JobProcessing(job, envelope, 1)).join(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            published = store.get(RECORD_PREFIX + "w@h:2")
            if published and published["slots"] and len(held_while_reading) > 2:
                break
            time.sleep(0.02)
        assert published["current"]["uuid"] == "running-1" and [s["uuid"] for s in published["slots"]] == ["running-1"]
    finally:
        monitor.on_worker_stopping(WorkerStopping(0, "empty"))
    assert held_while_reading and not any(held_while_reading)
