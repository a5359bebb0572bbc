"""High: one bad record never stops the queue; it lands in failed_jobs under a fresh uuid and the jobs behind it run."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Mark
from tests.security.store import plant, plant_member, queued, work

POISON: dict[str, str | bytes] = {
    "deep-nesting": "[" * 1000 + "]" * 1000,
    "lone-surrogate-uuid": '{"uuid":"\\ud800","job":"x"}',
    "long-uuid": '{"uuid":"' + "u" * 100 + '","job":"x"}',
    "uuid-not-a-string": '{"uuid":{"a":[1,2]},"job":"x"}',
    "empty": "",
    "not-json": "\x00\x01 hello",
}
# What a store's text column can hold at all: MariaDB and PostgreSQL refuse bytes that are not
# UTF-8, and PostgreSQL refuses NUL characters, at the write itself; those records cannot be planted there.
NUL_REFUSED = ("pgsql",)
NON_UTF8_REFUSED = ("mariadb", "pgsql")


def storable(backend: Backend, payload: str | bytes) -> bool:
    """Whether `backend`'s job table can hold `payload` at all."""
    if isinstance(payload, bytes):
        return backend.name not in NON_UTF8_REFUSED
    return not ("\x00" in payload and backend.name in NUL_REFUSED)


UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
INVALID_UTF8 = b'{"uuid":"\xff\xfe","job":"\xc3\x28"}'


def _assert_refused_and_queue_moves_on(backend: Backend, witness: Path, planted: int) -> None:
    Mark(witness, "behind").on_connection(backend.connection).dispatch()
    assert work(backend) == 0  # a crash would raise out of the worker here
    assert read_lines(witness) == ["behind"]
    assert queued(backend) == 0
    rows = backend.manager.failed.all()
    assert len(rows) == planted
    for row in rows:
        assert UUID_SHAPE.fullmatch(row.uuid)  # a fresh uuid, not the record's claim
        first = row.exception.splitlines()[0]
        assert first.startswith("InvalidPayloadError: payload") and "signature" in first


@pytest.mark.parametrize("kind", list(POISON))
def test_unsigned_garbage_goes_to_failed_jobs_and_the_queue_moves_on(backend: Backend, witness: Path, kind: str):
    if not storable(backend, POISON[kind]):
        pytest.skip(f"{backend.name} refuses to store this record (NUL in a text column)")
    plant(backend, POISON[kind])
    _assert_refused_and_queue_moves_on(backend, witness, 1)


def test_the_claimed_uuid_is_quoted_not_trusted(backend: Backend, witness: Path):
    plant(backend, POISON["long-uuid"])
    _assert_refused_and_queue_moves_on(backend, witness, 1)
    row = backend.manager.failed.all()[0]
    assert row.uuid != "u" * 100 and "claims uuid 'uuuu" in row.exception and "not trusted" in row.exception


def test_payload_bytes_that_are_not_utf8_are_refused(backend: Backend, witness: Path):
    if not storable(backend, INVALID_UTF8):
        pytest.skip(f"a UTF-8 text column cannot hold bytes that are not UTF-8: {backend.name} refuses the write itself")
    plant(backend, INVALID_UTF8)
    _assert_refused_and_queue_moves_on(backend, witness, 1)
    assert "\\xff\\xfe" in backend.manager.failed.all()[0].payload or "\ufffd" in backend.manager.failed.all()[0].payload


def test_a_signed_job_whose_attempts_column_holds_garbage_still_runs(backend: Backend, witness: Path):
    if backend.name != "sqlite":
        pytest.skip("only SQLite stores text in an integer column")
    from tests.security.store import stored_payloads

    Mark(witness, "odd-attempts").on_connection(backend.connection).dispatch()
    payload = stored_payloads(backend)[0]
    backend.driver().clear("default")
    plant(backend, payload, attempts="abc")
    assert work(backend) == 0
    assert read_lines(witness) == ["odd-attempts"]


BAD_MEMBERS = [b"no framing at all", b"1|high|0||{}", b"1|0|many||{}", b"1|0|1.5||{}", b"1|nan|0||{}",
               b"1|inf|0||{}", b"1|0|0|", b"|||", b"\xff\xfe|\x00|", b"000000000000001|1e999|0||{}"]


@pytest.mark.parametrize("where", ["pending", "delayed", "reserved"])
def test_redis_members_without_the_drivers_framing_are_refused(backend: Backend, witness: Path, where: str):
    if backend.name != "redis":
        pytest.skip("Redis record framing")
    for member in BAD_MEMBERS:
        plant_member(backend, member, where, score=0 if where == "pending" else 1.0)  # delayed/reserved: long due
    _assert_refused_and_queue_moves_on(backend, witness, len(BAD_MEMBERS))
    payloads = sorted(row.payload for row in backend.manager.failed.all())
    expected = sorted(m.decode("utf-8", "backslashreplace") for m in BAD_MEMBERS)
    assert payloads == expected  # every bad member accounted for, byte for byte (non-UTF-8 as \x escapes)


def test_a_worker_process_survives_every_kind_of_poison(backend: Backend, witness: Path):
    """The same records, picked up by a real `queue:work` process: exit 0, every record accounted for."""
    from tests.support import artisan

    records = [p for p in (*POISON.values(), INVALID_UTF8) if storable(backend, p)]
    for payload in records:
        plant(backend, payload)
    if backend.name == "redis":
        for member in BAD_MEMBERS:
            plant_member(backend, member, "pending", 0)
    planted = len(records) + (len(BAD_MEMBERS) if backend.name == "redis" else 0)
    Mark(witness, "behind").on_connection(backend.connection).dispatch()
    done = artisan("queue:work", backend.connection, "--stop-when-empty", "--sleep=0", env=backend.env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_lines(witness) == ["behind"]
    assert queued(backend) == 0 and backend.manager.failed.count() == planted
