"""Dispatch refuses what no driver or worker could handle, with an error naming the attribute; nothing is stored.

Each case once got through dispatch (or failed with a raw RecursionError / UnicodeEncodeError /
OverflowError / DataError) and, for policy attributes, was later reported by the worker as a
tampered payload. Run on every driver, since the raw errors differed per store.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

from app.Queue.errors import QueueError
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob


def _self_referencing() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


def _nested(depth: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def _job(**attrs: Any) -> RecordJob:
    job = RecordJob("/dev/null")
    for name, value in attrs.items():
        setattr(job, name, value)
    return job


CASES: dict[str, tuple[Callable[[], Any], str]] = {
    "self-referencing list": (lambda: _job(items=_self_referencing()), "RecordJob.items[0]"),
    "900-deep nesting": (lambda: _job(items=_nested(900)), "RecordJob.items[0]"),
    "lone surrogate": (lambda: _job(text="ok \ud800"), "RecordJob.text"),
    "10**5000": (lambda: _job(n=10**5000), "RecordJob.n"),
    "surrogate in a list": (lambda: _job(rows=[{"name": "\udcff"}]), "RecordJob.rows[0].name"),
    "backoff='soon'": (lambda: _job(backoff="soon"), "RecordJob.backoff"),
    "timeout='abc'": (lambda: _job(timeout="abc"), "RecordJob.timeout"),
    "max_tries='x'": (lambda: _job(max_tries="x"), "RecordJob.max_tries"),
    "timeout=nan": (lambda: _job(timeout=float("nan")), "RecordJob.timeout"),
    "priority attribute 10**20": (lambda: _job(priority=10**20), "RecordJob.priority"),
    "20 MB argument": (lambda: _job(blob="x" * (20 * 1024 * 1024)), "QUEUE_MAX_PAYLOAD_BYTES"),
    "300-character queue": (lambda: _job().on_queue("q" * 300), "at most 191 characters"),
    "queue with a comma": (lambda: _job().on_queue("emails,sms"), "contains ','"),
    "queue with a colon": (lambda: _job().on_queue("redis:emails"), "contains ':'"),
    "queue with an escape": (lambda: _job().on_queue("q\x1b[2J"), "contains '\\x1b'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_dispatch_refuses_with_an_error_naming_the_attribute(backend: Backend, case: str):
    build, needle = CASES[case]
    with pytest.raises((QueueError, ValueError, TypeError)) as info:
        backend.manager.push(build(), connection=backend.connection)
    assert needle in str(info.value) and "\n" not in str(info.value)
    with pytest.raises((QueueError, ValueError, TypeError)) as again:  # bulk takes the other encoder
        backend.manager.bulk([RecordJob("/dev/null"), build()], connection=backend.connection)
    assert needle in str(again.value)
    assert backend.manager.size("default", backend.connection) == 0


@pytest.mark.parametrize("call, needle", [
    (lambda: RecordJob("/dev/null").delay(10**30), "delay must be at most"),
    (lambda: RecordJob("/dev/null").delay(float("nan")), "delay must be a finite number"),
    (lambda: RecordJob("/dev/null").with_priority(10**20), "priority must be between"),
    (lambda: RecordJob("/dev/null").with_priority("high"), "priority must be an int"),
], ids=["delay(10**30)", "delay(nan)", "with_priority(10**20)", "with_priority('high')"])
def test_fluent_setters_refuse_values_no_driver_can_store(backend: Backend, call: Callable[[], Any], needle: str):
    with pytest.raises((ValueError, TypeError), match=needle.replace("(", r"\(")):
        call()
    with pytest.raises(ValueError, match="delay must be at most"):
        backend.manager.later(10**30, RecordJob("/dev/null"), connection=backend.connection)
    assert backend.manager.size("default", backend.connection) == 0


def test_values_at_the_limits_are_stored_and_read_back(backend: Backend):
    """The checks refuse only what cannot work: the largest allowed values dispatch and decode."""
    qm = backend.manager
    job = _job(items=_nested(60), text="emoji 😀 and ünïcode", n=10**4000, rows=[{"k": (1, 2)}])
    job.on_queue("q" * 191).with_priority(2**31 - 1).delay(1)
    job.backoff = [1, 5.5, 30]
    qm.push(job, connection=backend.connection)
    assert qm.size("q" * 191, backend.connection) == 1
    stored = qm.connection(backend.connection)
    popped = None
    import time

    for _ in range(40):  # the delay of 1 s
        popped = stored.pop("q" * 191, "test")
        if popped is not None:
            break
        time.sleep(0.1)
    assert popped is not None
    restored = qm.codec.restore(qm.codec.parse(popped.payload))
    assert restored.text == "emoji 😀 and ünïcode" and restored.n == 10**4000 and restored.rows == [{"k": (1, 2)}]


def test_payload_limit_is_a_setting(backend: Backend, monkeypatch: pytest.MonkeyPatch):
    from config import env as env_mod

    monkeypatch.setenv("QUEUE_MAX_PAYLOAD_BYTES", "4096")
    env_mod.reload()
    backend.manager.reset()
    with pytest.raises(QueueError, match="over the 4096-byte limit"):
        backend.manager.push(_job(blob="x" * 5000), connection=backend.connection)
    assert backend.manager.push(_job(blob="x" * 3000), connection=backend.connection)
