"""The completed-jobs recorder's cheaper spelling stores every byte it stored before, on every backend.

The reference below is the recorder's previous code (`_row`, `tag_list`, the Redis zset member), kept
verbatim; generated envelopes (ids and queues of any type and length, tags of any shape, data with
encrypted and sensitive fields, NaN and infinite times) are recorded both ways on a real store and
the stored text compared byte for byte.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.Horizon.CompletedJobRecorder import CompletedJobRecorder
from app.Horizon.CompletedStoreFactory import completed_store
from app.Horizon.RedisCompletedJobStore import member_and_score
from app.Horizon.Redaction import data_json, finished_job_data
from app.Horizon.TagIndexFactory import completed_tag_index
from app.Horizon.TagsRepository import TagsRepository
from app.Jobs.Contracts import ShouldBeEncrypted
from app.Jobs.Job import Job
from app.Jobs.Security import SecureJob
from app.Queue.events import JobProcessed
from app.Queue.Support.time import now
from tests.dashboard_support import empty_dashboard_tables
from tests.drivers.conftest import Backend


class PlainJob(Job):
    """An ordinary job."""

    def handle(self) -> None:
        return None


class HiddenJob(ShouldBeEncrypted, PlainJob):
    """A job whose whole data is encrypted."""


class CardJob(SecureJob):
    """A job with a sensitive field."""

    def __init__(self) -> None:
        super().__init__()
        self.set_sensitive_fields(["card"])

    def handle(self) -> None:
        return None


def _reference_tag_list(envelope: dict[str, Any]) -> list[str]:
    tags = envelope.get("tags")
    if not tags or not isinstance(tags, list):
        return []
    return [str(t)[:191] for t in tags if isinstance(t, (str, int, float))]


def _reference_row(event: JobProcessed, at: float, definitions: Any) -> tuple[Any, ...]:
    """CompletedJobRecorder._row as it was."""
    envelope = event.envelope
    get = envelope.get
    job = event.job
    name = type(job).__name__ if job is not None else str(get("displayName") or "?")
    created = get("createdAt")
    data = finished_job_data(job, envelope, definitions)
    return (
        str(get("uuid") or "")[:64], str(get("connection") or "")[:191],
        str(get("queue") or "default")[:191], name[:191],
        json.dumps(_reference_tag_list(envelope), ensure_ascii=False) if get("tags") else "[]",
        data_json(data) if data else "{}", int(event.attempts), float(event.runtime),
        float(created) if isinstance(created, (int, float)) else at, at,
    )


def _reference_member(row: tuple[Any, ...]) -> str:
    """The Redis zset member as it was: the row as compact JSON."""
    return json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.text(max_size=3).map(lambda s: (s + "é\"\\\n\u2028" * 60)[:300])
_scalar = st.none() | st.booleans() | st.integers() | st.floats() | _text
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=8)
_envelopes = st.fixed_dictionaries({}, optional={
    "uuid": _scalar, "connection": _scalar, "queue": _scalar, "displayName": _scalar,
    "createdAt": st.floats() | st.integers(-2**40, 2**40) | _text,
    "tags": st.lists(_scalar | st.lists(_scalar, max_size=2), max_size=4) | _scalar,
    "data": _json | st.dictionaries(st.sampled_from(["card", "name", "n"]), _json, max_size=3),
    "encrypted": st.booleans(), "encryptedFields": st.lists(st.sampled_from(["card", "name"]), max_size=2),
})
_events = st.tuples(st.sampled_from([None, PlainJob, HiddenJob, CardJob]), _envelopes, st.integers(0, 2**40),
                    st.floats(allow_nan=True) | st.integers(0, 1000))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_events, min_size=1, max_size=6), st.floats(0, 2e9))  # `at` is now(): finite
def test_the_stored_rows_are_the_old_ones_byte_for_byte(backend: Backend, events: list[Any], at: float) -> None:
    recorder = CompletedJobRecorder(completed_store(backend.manager), backend.manager, 60.0)
    built = [JobProcessed(job() if job is not None else None, envelope, attempts, runtime)  # type: ignore[arg-type]
             for job, envelope, attempts, runtime in events]
    rows = [recorder._row(event, at) for event in built]
    expected = [_reference_row(event, at, backend.manager.definitions) for event in built]
    assert repr(rows) == repr(expected)  # repr: NaN equals itself, an int differs from a float
    for row in expected:
        member, score = member_and_score(row)
        assert member == _reference_member(row) and (float(score) == row[9] or row[9] != row[9])
    _empty(recorder.store)
    recorder.store.record(rows)
    assert _stored(backend) == _stored_reference(backend, expected)


def _empty(store: Any) -> None:
    """No completed job stored (the dashboard tables, or the Redis zset)."""
    empty_dashboard_tables()
    if hasattr(store, "jobs_key"):
        store.client.delete(store.jobs_key)


def _stored(backend: Backend) -> list[Any]:
    """What the store holds: the zset members (Redis) or the flushes' `jobs` text (SQL)."""
    store = completed_store(backend.manager)
    if hasattr(store, "jobs_key"):
        return sorted(store.client.zrange(store.jobs_key, 0, -1))
    from sqlalchemy import select

    from app.Horizon.tables import completed_jobs

    with store.engine.connect() as conn:
        return [r.jobs for r in conn.execute(select(completed_jobs.c.jobs))]


def _stored_reference(backend: Backend, rows: list[tuple[Any, ...]]) -> list[Any]:
    """What the old code stored for these rows."""
    store = completed_store(backend.manager)
    if hasattr(store, "jobs_key"):
        return sorted({_reference_member(r) for r in rows})
    return [json.dumps(rows, separators=(",", ":"), ensure_ascii=False)]


def test_a_recorded_job_with_monitored_tags_is_stored_and_indexed_as_before(backend: Backend) -> None:
    tags = TagsRepository(backend.manager)
    tags.monitor("é \"x\"")
    tags.monitor("7")
    recorder = CompletedJobRecorder(completed_store(backend.manager), backend.manager, 60.0, completed_tag_index(backend.manager))
    _empty(recorder.store)
    envelope = {"uuid": "u-1", "connection": backend.connection, "queue": "q", "tags": ["é \"x\"", 7, 2.5, True, None, {"a": 1}],
                "data": {"n": 1}, "createdAt": 1.5}
    event = JobProcessed(PlainJob(), envelope, 1, 0.25)
    at = now()
    row = recorder._row(event, at)
    assert row == _reference_row(event, at, backend.manager.definitions)
    assert row[4] == '["é \\"x\\"", "7", "2.5", "True"]'
    assert recorder._write([row])
    assert _stored(backend) == _stored_reference(backend, [row])
    index = completed_tag_index(backend.manager)
    assert index is not None
    assert [index.ids(t, "completed", 0, 10) for t in ("é \"x\"", "7", "2.5")] == [["u-1"], ["u-1"], []]  # "2.5": not monitored
    tags.stop("é \"x\"")
    tags.stop("7")
