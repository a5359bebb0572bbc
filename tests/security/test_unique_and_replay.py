"""Low: a refused unique job frees its lock (at refusal and through queue:forget); a completed payload is not replayed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.Jobs.UniqueLock import lock_key
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Mark, OnlyOnce
from tests.security.store import plant, queued, stored_payloads, work
from tests.support import artisan


def _tamper(payload: str) -> str:
    return payload.replace('"key":"k1"', '"key":"k2"')


def test_a_unique_job_refused_for_a_bad_signature_frees_its_lock(backend: Backend, witness: Path):
    assert OnlyOnce(witness, "k1").on_connection(backend.connection).dispatch() is not None
    assert OnlyOnce(witness, "k1").on_connection(backend.connection).dispatch() is None  # the lock holds
    payload = stored_payloads(backend)[0]
    backend.driver().clear("default")
    plant(backend, _tamper(payload))
    work(backend)
    assert read_lines(witness) == [] and backend.manager.failed.count() == 1
    assert OnlyOnce(witness, "k1").on_connection(backend.connection).dispatch() is not None  # lock freed
    work(backend)
    assert read_lines(witness) == ["unique k1"]


def test_queue_forget_frees_the_lock_of_a_refused_copy_recorded_under_its_claimed_uuid(backend: Backend, witness: Path):
    """Rows refused before this fix are keyed by the uuid the record claimed; forgetting one frees that copy's lock."""
    job_uuid = OnlyOnce(witness, "k1").on_connection(backend.connection).dispatch()
    payload = _tamper(stored_payloads(backend)[0])
    backend.driver().clear("default")  # clear() in the driver frees nothing: the lock stays, as after a refusal
    backend.manager.failed.log(backend.connection, "default", payload, "InvalidPayloadError: signature", job_uuid)
    assert backend.manager.locks.acquire(lock_key(OnlyOnce(witness, "k1")), "probe", 60) is False
    done = artisan("queue:forget", job_uuid, env=backend.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert OnlyOnce(witness, "k1").on_connection(backend.connection).dispatch() is not None


def test_a_completed_payload_inserted_again_is_not_run_again(backend: Backend, witness: Path):
    Mark(witness, "once").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    work(backend)
    assert read_lines(witness) == ["once"]
    plant(backend, payload)  # the attacker replays the signed bytes, attempts reset to 0
    work(backend)
    assert read_lines(witness) == ["once"] and queued(backend) == 0
    assert backend.manager.failed.count() == 0


def test_the_same_job_dispatched_again_under_its_uuid_still_runs(backend: Backend, witness: Path):
    """Not a replay: a second dispatch of one instance reuses its uuid but is a new payload (new createdAt)."""
    job = Mark(witness, "again").on_connection(backend.connection)
    first = job.dispatch()
    work(backend)
    second = job.dispatch()
    work(backend)
    assert first == second and read_lines(witness) == ["again", "again"]


def test_a_copy_of_a_payload_waiting_behind_it_runs_once(backend: Backend, witness: Path):
    """A copy planted while the original still waits is dropped once the original completed."""
    Mark(witness, "pending").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    plant(backend, payload)
    work(backend)
    assert read_lines(witness) == ["pending"]  # the copy after the first completion is dropped


@pytest.mark.parametrize("field", ["state", "done_sig"])
def test_a_forged_status_record_cannot_mark_another_payload_as_done(backend: Backend, witness: Path, field: str):
    """The status record can only suppress the exact payload it names (a store writer could delete it anyway)."""
    job_uuid = Mark(witness, "fresh").on_connection(backend.connection).dispatch()
    forged = {"state": "completed", "attempts": 1, "progress": 100.0, "done_sig": "0" * 64}
    if field == "state":
        forged["state"] = "pending"
    backend.manager.cache.put(f"status:{job_uuid}", json.loads(json.dumps(forged)), 60)
    work(backend)
    assert read_lines(witness) == ["fresh"]
