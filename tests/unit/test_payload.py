"""Payload envelope (DESIGN invariant 4): signed JSON, allowed classes only, faithful round trips."""
from __future__ import annotations

import json
import socket
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.Jobs.Job import Job
from app.Queue.Database.tables import jobs
from app.Queue.errors import InvalidPayloadError, SerializationError
from app.Queue.Payload import PayloadCodec
from app.Queue.Serializer import module_allowed, resolve_class
from tests.fixtures.core_jobs import Colour, Level, Mood, Opaque, PolicyJob
from tests.fixtures.jobs import DumpJob, NoopJob, RecordJob


def stored_rows(qm) -> list[str]:
    with qm.engine().connect() as conn:
        return [r[0] for r in conn.execute(select(jobs.c.payload))]


def row_count(qm) -> int:
    with qm.engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())


def round_trip(qm, job: Job) -> Job:
    """Dispatch, then decode the stored row the way a worker does."""
    job.dispatch()
    (raw,) = stored_rows(qm)
    return qm.codec.restore(qm.codec.parse(raw))


def test_stored_payload_is_a_json_envelope_with_a_trailing_hmac_signature(queue_env, witness):
    job_id = RecordJob.dispatch(str(witness), "hi")
    (raw,) = stored_rows(queue_env)
    envelope = json.loads(raw)
    assert envelope["uuid"] == job_id
    assert envelope["job"] == "tests.fixtures.jobs:RecordJob"
    assert envelope["displayName"] == "RecordJob"
    assert envelope["data"] == {"path": str(witness), "tag": "hi"}
    assert list(envelope)[-1] == "signature" and len(envelope["signature"]) == 64
    assert queue_env.codec.parse(raw)["uuid"] == job_id


def test_policy_attributes_travel_in_the_envelope_not_in_data(queue_env, witness):
    PolicyJob(str(witness)).dispatch()
    (raw,) = stored_rows(queue_env)
    env = json.loads(raw)
    assert (env["queue"], env["connection"], env["maxTries"], env["timeout"]) == ("policy", "database", 7, 12)
    assert (env["backoff"], env["maxExceptions"], env["failOnTimeout"], env["priority"]) == ([1, 5, 30], 4, True, 3)
    assert env["retryUntil"] == datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()
    assert env["tags"] == ["policy", f"path:{witness}"]
    assert set(env["data"]) == {"path"}


def test_a_payload_with_a_changed_byte_fails_signature_check(queue_env, witness):
    RecordJob.dispatch(str(witness), "hi")
    (raw,) = stored_rows(queue_env)
    tampered = raw.replace('"hi"', '"ho"')
    with pytest.raises(InvalidPayloadError, match="signature does not match"):
        queue_env.codec.parse(tampered)


def test_a_payload_signed_with_another_key_is_refused_and_a_previous_key_is_accepted(queue_env, witness):
    other = PayloadCodec(b"x" * 32, ["tests.fixtures"])
    _, raw = other.create(RecordJob(str(witness)), "default", "database")
    with pytest.raises(InvalidPayloadError, match="signature"):
        queue_env.codec.parse(raw)
    rotated = PayloadCodec(b"y" * 32, ["tests.fixtures"], previous_keys=[b"x" * 32])
    assert rotated.parse(raw)["job"] == "tests.fixtures.jobs:RecordJob"


def test_an_unsigned_payload_is_refused(queue_env):
    raw = json.dumps({"uuid": "u", "job": "tests.fixtures.jobs:NoopJob", "data": {}})
    with pytest.raises(InvalidPayloadError, match="not signed"):
        queue_env.codec.parse(raw)


@pytest.mark.parametrize("module, allowed", [
    ("app", True), ("app.Jobs.Examples", True), ("application", False), ("application.jobs", False),
    ("apps.x", False), ("tests.fixtures.jobs", True), ("tests.fixturesx", False), ("os", False),
])
def test_allowed_modules_match_whole_package_prefixes(module, allowed):
    assert module_allowed(module, ["app", "tests.fixtures."]) is allowed
    assert module_allowed(module, ["app.", "tests.fixtures"]) is allowed


def test_class_outside_allowed_modules_is_refused_without_importing_it(tmp_path, monkeypatch):
    with pytest.raises(InvalidPayloadError, match="outside the allowed job modules"):
        resolve_class("os:system", ["app."], Job)
    marker = tmp_path / "imported"
    (tmp_path / "side_effect_jobs.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Evil: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "side_effect_jobs", raising=False)
    with pytest.raises(InvalidPayloadError, match="outside the allowed job modules"):
        resolve_class("side_effect_jobs:Evil", ["app."], Job)
    assert "side_effect_jobs" not in sys.modules and not marker.exists()  # its top-level code never ran
    with pytest.raises(InvalidPayloadError, match="not a subclass of Job"):  # allowed: it is imported, then refused
        resolve_class("side_effect_jobs:Evil", ["side_effect_jobs"], Job)
    assert marker.exists()
    sys.modules.pop("side_effect_jobs", None)


def test_class_that_is_not_a_job_subclass_is_refused():
    with pytest.raises(InvalidPayloadError, match="not a subclass of Job"):
        resolve_class("tests.fixtures.core_jobs:NotAJob", ["tests.fixtures"], Job)


def test_unknown_class_in_allowed_module_is_refused():
    with pytest.raises(InvalidPayloadError, match="cannot load class"):
        resolve_class("tests.fixtures.jobs:Nope", ["tests.fixtures"], Job)


def test_every_supported_attribute_type_round_trips(queue_env, witness):
    aware = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=timezone(timedelta(hours=2)))
    naive = datetime(2026, 3, 4, 5, 6, 7)
    values = dict(
        aware=aware, naive=naive, day=date(2026, 3, 4), money=Decimal("10.005"), ident=uuid.UUID(int=7),
        colour=Colour.BLUE, level=Level.HIGH, mood=Mood.CALM, tags={"a", "b"}, frozen=frozenset({1, 2}), pair=(1, ("x", 2.5)),
        blob=b"\x00\xffbytes", nested=RecordJob(str(witness), "inner"), by_int={1: "one", (2, 3): "tuple-key"},
        span=timedelta(minutes=3), nums=[1, 2.5, None, True], text="ünïcode", inf=float("inf"),
        tagged={"__t": "not a tag"},
    )
    restored = round_trip(queue_env, DumpJob(str(witness), **values))
    assert isinstance(restored, DumpJob)
    for name, value in values.items():
        if name == "nested":
            continue
        got = getattr(restored, name)
        assert got == value and type(got) is type(value), name
    assert restored.aware.utcoffset() == timedelta(hours=2)
    assert restored.naive.tzinfo is None
    assert isinstance(restored.nested, RecordJob)
    assert (restored.nested.path, restored.nested.tag) == (str(witness), "inner")


@pytest.mark.parametrize("make_value, type_name", [
    (lambda: (lambda: 1), "function"),
    (lambda: socket.socket(), "socket"),
    (lambda: Opaque(), "Opaque"),
])
def test_unserialisable_attribute_is_refused_at_dispatch_naming_it_and_nothing_is_stored(queue_env, witness, make_value, type_name):
    value = make_value()
    try:
        with pytest.raises(SerializationError, match=rf"DumpJob\.callback.*{type_name}"):
            DumpJob.dispatch(str(witness), callback=value)
    finally:
        if isinstance(value, socket.socket):
            value.close()
    assert row_count(queue_env) == 0


def test_unserialisable_value_nested_in_a_dict_is_named_by_its_path(queue_env, witness):
    with pytest.raises(SerializationError, match=r"DumpJob\.options\.hook"):
        DumpJob.dispatch(str(witness), options={"ok": 1, "hook": Opaque()})
    assert row_count(queue_env) == 0


def test_runtime_and_private_attributes_are_not_serialised(queue_env):
    job = NoopJob()
    job._scratch = object()  # private: ignored, so no SerializationError
    job.attempts = 5
    job.dispatch()
    (raw,) = stored_rows(queue_env)
    assert json.loads(raw)["data"] == {}


@pytest.mark.parametrize("value", [
    {"t": 0.0}, {}, {"text": "ünïcode ✓ \"quoted\" \\ \n\t\x01", "n": [1, -2, 3.5, 1e300, -0.0, None, True, False]},
    {"nested": {"a": [{"b": []}, {}]}, "big": 2**62}, {"nan": float("nan"), "inf": float("-inf")},
])
def test_payload_data_is_spelt_exactly_as_the_envelope_encoder_spells_it(value):
    from app.Queue.PayloadWriter import dumps, dumps_acyclic

    assert dumps_acyclic(value) == dumps(value)


def test_the_data_encoder_refuses_what_json_cannot_hold():
    from app.Queue.PayloadWriter import dumps_acyclic

    with pytest.raises(TypeError, match="Opaque"):
        dumps_acyclic({"x": Opaque()})
