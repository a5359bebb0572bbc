"""Invariant 4 on every driver: poison payloads go to failed_jobs through a real worker, run nothing, and the worker goes on.

The same cases as tests/reliability/test_sqlite_reliability.py, written straight into each
store with the driver's own push (a raw payload, as a compromised or buggy producer would).
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from app.Queue.Payload import sign
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob
from tests.support import start_worker, stop

pytestmark = pytest.mark.slow


def _envelope(job: str, marker: str, connection: str) -> dict:
    return {"uuid": str(uuid.uuid4()), "displayName": "X", "job": job, "queue": "default", "connection": connection,
            "maxTries": 1, "data": {"path": marker, "tag": "poison", "command": f"touch {marker}"}}


def _compact(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"))


def poison_payloads(marker: str, connection: str) -> dict[str, tuple[str, str]]:
    """Each case: the raw payload, and what the first line of its failed_jobs exception says."""
    from config.app import app_key

    key = app_key()
    env = lambda job, **extra: _compact({**_envelope(job, marker, connection), **extra})  # noqa: E731
    return {
        "bad json": ("{not json at all", "not signed"),
        "unsigned os:system": (env("os:system"), "not signed"),
        "signed os:system": (sign(env("os:system"), key), "outside the allowed job modules"),
        "forged signature": (sign(env("tests.fixtures.jobs:RecordJob"), b"z" * 32), "signature does not match"),
        "not a Job": (sign(env("tests.fixtures.core_jobs:NotAJob"), key), "not a subclass of Job"),
        "signed, bad policy": (sign(env("tests.fixtures.jobs:RecordJob", maxTries="many"), key), "many"),
        "signed, bad value tag": (sign(env("tests.fixtures.jobs:RecordJob",
                                           data={"path": {"__t": "enum", "cls": "os:system", "v": 1}}), key),
                                  "outside the allowed job modules"),
    }


def test_poison_payloads_fail_run_nothing_and_the_worker_goes_on(backend: Backend, witness: Path, tmp_path: Path):
    marker = str(tmp_path / "pwned")
    cases = poison_payloads(marker, backend.connection)
    driver = backend.driver()
    for payload, _ in cases.values():
        driver.push(payload, "default")
    good = RecordJob(str(witness), "good").on_connection(backend.connection).dispatch()
    proc = start_worker([backend.connection, "--sleep=0.1", "--stop-when-empty"], env=backend.env,
                        log=tmp_path / "worker.log")
    try:
        assert proc.wait(30) == 0
    finally:
        stop(proc)
    assert read_lines(witness) == [f"good {good} 1"]
    assert not Path(marker).exists()
    assert backend.manager.size("default", backend.connection) == 0
    failed = list(reversed(backend.manager.failed.all()))  # oldest first
    first_lines = [f.exception.splitlines()[0] for f in failed]
    assert len(first_lines) == len(cases) and all(line.startswith("InvalidPayloadError: ") for line in first_lines)
    for (name, (_, needle)), line in zip(cases.items(), first_lines):
        assert needle in line, (name, line)
    assert len({f.uuid for f in failed}) == len(cases)
    assert {f.connection for f in failed} == {backend.connection}
