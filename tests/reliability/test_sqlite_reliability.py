"""Invariants 1, 2 and 4 on the embedded SQLite default, with real worker processes."""
from __future__ import annotations

import json
import signal
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import insert

from app.Queue.Database.tables import jobs
from app.Queue.Payload import sign
from app.Queue.Support.time import now_int
from tests.conftest import read_lines
from tests.core_helpers import failed_rows, job_rows
from tests.fixtures.jobs import PausingRecordJob, RecordJob, SleepJob
from tests.support import start_worker, stop, wait_until

pytestmark = pytest.mark.slow


def test_a_sigkilled_worker_loses_nothing_the_job_runs_again_after_the_lease(queue_env, witness, tmp_path):
    env = {"QUEUE_RETRY_AFTER": "2"}
    job_id = SleepJob.dispatch(str(witness), 1.0, "k")
    victim = start_worker(["--sleep=0.1"], env=env, log=tmp_path / "victim.log")
    try:
        assert wait_until(lambda: any(l.startswith("start") for l in read_lines(witness)), 15)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(10) == -signal.SIGKILL
    finally:
        stop(victim)
    (row,) = job_rows(queue_env)
    assert row["reserved_at"] is not None  # still leased by the dead worker
    rescuer = start_worker(["--sleep=0.1"], env=env, log=tmp_path / "rescuer.log")
    try:  # the lease is 2 s: far sooner than this bound, which only a job stuck for good would reach
        assert wait_until(lambda: f"done k {job_id} 2" in read_lines(witness), 60)
    finally:
        assert stop(rescuer) == 0
    assert read_lines(witness) == [f"start k {job_id} 1", f"start k {job_id} 2", f"done k {job_id} 2"]
    assert job_rows(queue_env) == [] and failed_rows(queue_env) == []


def test_two_workers_on_one_sqlite_file_never_run_a_job_twice(queue_env, witness, tmp_path):
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    workers = [start_worker(["--sleep=0.01", f"--name=w{i}"], log=log) for i, log in enumerate(logs)]
    try:
        # both must be polling before the jobs arrive, so that they really compete
        assert wait_until(lambda: all(l.exists() and "Processing jobs" in l.read_text() for l in logs), 20)
        # 2 ms per job: a no-op job lets one worker win every lock handoff and run all 500 alone
        ids = queue_env.bulk([PausingRecordJob(str(witness), "w", pause=0.002) for _ in range(500)])
        assert wait_until(lambda: len(read_lines(witness)) >= 500, 60)
        time.sleep(0.3)  # a job run twice would show up as a late extra line
    finally:
        assert [stop(proc) for proc in workers] == [0, 0]
    ran = Counter(line.split()[1] for line in read_lines(witness))
    assert set(ran) == set(ids) and max(ran.values()) == 1
    assert all(line.endswith(" 1") for line in read_lines(witness))
    assert job_rows(queue_env) == [] and failed_rows(queue_env) == []
    done = [log.read_text().count("DONE") for log in logs]
    assert sum(done) == 500 and min(done) > 0, done


def _insert_raw(qm, payload: str) -> None:
    with qm.engine().begin() as conn:
        conn.execute(insert(jobs).values(queue="default", payload=payload, attempts=0, priority=0,
                                         reserved_at=None, reserved_by=None, available_at=now_int(), created_at=now_int()))


def _envelope(job: str, marker: str) -> dict:
    return {"uuid": str(uuid.uuid4()), "displayName": "X", "job": job, "queue": "default", "connection": "database",
            "maxTries": 1, "data": {"path": marker, "tag": "poison", "command": f"touch {marker}"}}


def test_poison_rows_go_to_failed_jobs_execute_nothing_and_the_worker_goes_on(queue_env, witness, tmp_path):
    from app.Queue.QueueManager import manager
    from config.app import app_key

    marker = str(tmp_path / "pwned")
    key = app_key()
    compact = lambda d: json.dumps(d, separators=(",", ":"))  # noqa: E731
    forged = sign(compact(_envelope("tests.fixtures.jobs:RecordJob", marker)), b"z" * 32)
    poison = {
        "bad json": "{not json at all",
        "unsigned os:system": compact(_envelope("os:system", marker)),
        "signed os:system": sign(compact(_envelope("os:system", marker)), key),
        "forged signature": forged,
        "not a Job": sign(compact(_envelope("tests.fixtures.core_jobs:NotAJob", marker)), key),
        "signed, bad policy": sign(compact({**_envelope("tests.fixtures.jobs:RecordJob", marker), "maxTries": "many"}), key),
        "signed, bad value tag": sign(compact({**_envelope("tests.fixtures.jobs:RecordJob", marker),
                                               "data": {"path": {"__t": "enum", "cls": "os:system", "v": 1}}}), key),
    }
    for payload in poison.values():
        _insert_raw(queue_env, payload)
    good = RecordJob.dispatch(str(witness), "good")
    proc = start_worker(["--sleep=0.1", "--stop-when-empty"], log=tmp_path / "worker.log")
    try:
        assert proc.wait(30) == 0
    finally:
        stop(proc)
    assert read_lines(witness) == [f"good {good} 1"]
    assert not (tmp_path / "pwned").exists()
    assert job_rows(queue_env) == []
    first_lines = [r["exception"].splitlines()[0] for r in failed_rows(queue_env)]
    assert len(first_lines) == 7 and all(l.startswith("InvalidPayloadError: ") for l in first_lines)
    assert "not signed" in first_lines[0]
    assert "not signed" in first_lines[1]
    assert "outside the allowed job modules" in first_lines[2]
    assert "signature does not match" in first_lines[3]
    assert "not a subclass of Job" in first_lines[4]
    assert "maxTries" in first_lines[5] or "many" in first_lines[5]
    assert "outside the allowed job modules" in first_lines[6]
    assert len({r["uuid"] for r in failed_rows(manager())}) == 7
