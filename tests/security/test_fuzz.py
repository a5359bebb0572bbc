"""Fuzz the decoder and the claim paths with random and structured garbage (hypothesis, bounded).

Every generated record is planted in the real store of each driver and picked up by a real
worker in this process. Expected: 0 crashes (nothing raises out of the worker), 0 executions
(no forged job ever writes to the witness), every bad record accounted for (one failed_jobs row
each, nothing left on the queue), and the signed job dispatched behind them runs once.
Figures (inputs tried, crashes, executions) print at the end of the module (`-s`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.Queue.Payload import sign
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.security_jobs import Mark
from tests.security.store import plant, plant_member, queued, work

MARK = "tests.fixtures.security_jobs:Mark"
EXECUTED = "EXECUTED-BY-FORGERY"
FIGURES: dict[str, dict[str, int]] = {}
CLAIM_EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "60"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
odd_uuids = st.one_of(st.text(max_size=120), st.sampled_from(["\ud800", "\udfff", "u" * 100, "", "x" * 10_000]),
                      json_values)


@st.composite
def forged_envelopes(draw: Any, witness: str) -> str:
    """A job envelope naming a real job that would write EXECUTED, with a signature made without APP_KEY."""
    envelope = {"uuid": draw(odd_uuids), "displayName": "Mark", "job": draw(st.sampled_from([MARK, "os:system", 7])),
                "queue": "default", "maxTries": draw(json_values), "data": {"path": witness, "text": EXECUTED},
                "createdAt": 0}
    for key in draw(st.lists(st.sampled_from(["chain", "batchId", "encrypted", "tags", "timeout"]), max_size=3)):
        envelope[key] = draw(json_values)
    body = json.dumps(envelope, separators=(",", ":"))
    how = draw(st.sampled_from(["wrong-key", "no-signature", "bad-hex", "truncated"]))
    if how == "wrong-key":
        return sign(body, draw(st.binary(min_size=1, max_size=40)))
    if how == "bad-hex":
        return body[:-1] + ',"signature":"' + "z" * 64 + '"}'
    if how == "truncated":
        signed = sign(body, b"k" * 32)
        return signed[: draw(st.integers(0, len(signed) - 1))]
    return body


def garbage(witness: str) -> st.SearchStrategy[str | bytes]:
    depth = st.integers(1, 5000)
    return st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"uuid":' * n),
        json_values.map(json.dumps),
        forged_envelopes(witness),
    )


def _figures(name: str) -> dict[str, int]:
    return FIGURES.setdefault(name, {"inputs": 0, "crashes": 0, "executions": 0, "unaccounted": 0})


@pytest.fixture(scope="module", autouse=True)
def _print_figures():
    yield
    for name, f in sorted(FIGURES.items()):
        print(f"\nfuzz {name}: inputs tried {f['inputs']}, crashes {f['crashes']}, executions {f['executions']}, "
              f"records unaccounted for {f['unaccounted']}")


@settings(max_examples=1000, deadline=None, database=None)
@given(raw=garbage("/nonexistent/witness"))
def test_the_decoder_refuses_garbage_with_a_queue_error_only(raw: str | bytes):
    """parse/restore raise InvalidPayloadError for every unsigned input; the quarantine helpers never raise."""
    from app.Queue.errors import InvalidPayloadError
    from app.Queue.Quarantine import claimed_uuid, storable_text, trusted_uuid
    from app.Queue.QueueManager import manager

    codec = manager().codec
    figures = _figures("decoder")
    figures["inputs"] += 1
    try:
        codec.restore(codec.parse(raw))
        figures["executions"] += 1  # a forged payload decoded into a runnable job
    except InvalidPayloadError:
        pass
    except BaseException:
        figures["crashes"] += 1
        raise
    storable_text(raw).encode("utf-8")
    assert trusted_uuid(raw, codec.keys) is None
    claim = claimed_uuid(raw)
    assert claim is None or len(claim) == 36


def _claim_fuzz(backend: Backend, witness: Path, records: list[str | bytes], members: list[tuple[bytes, str]],
                prefetch: int) -> None:
    witness.unlink(missing_ok=True)
    members = list(dict.fromkeys(members))  # a zset holds a member once
    figures = _figures(f"claims-{backend.name}")
    figures["inputs"] += len(records) + len(members)
    before = backend.manager.failed.count()
    for raw in records:
        if backend.name == "mariadb" and isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")  # utf8mb4 refuses other bytes at the write itself
        if backend.name == "mariadb" and isinstance(raw, str):
            raw = raw.encode("utf-8", "replace").decode("utf-8")  # likewise lone surrogates
        if backend.name == "pgsql":  # PostgreSQL text refuses non-UTF-8 bytes, lone surrogates and NUL at the write
            text_value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            raw = text_value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
        plant(backend, raw)
    for member, where in members:
        plant_member(backend, member, where, 0 if where == "pending" else 1.0)
    Mark(witness, "signed").on_connection(backend.connection).dispatch()
    try:
        work(backend, prefetch=prefetch)  # 1: POP / DELETE_AND_POP; 4: POP_MANY and BEGIN (batch mode)
    except BaseException:
        figures["crashes"] += 1
        raise
    lines = read_lines(witness)
    figures["executions"] += sum(1 for line in lines if line == EXECUTED)
    added = backend.manager.failed.count() - before
    figures["unaccounted"] += abs(len(records) + len(members) - added) + queued(backend)
    assert EXECUTED not in lines and lines.count("signed") == 1
    assert added == len(records) + len(members) and queued(backend) == 0


def test_the_claim_paths_survive_random_records(backend: Backend, witness: Path):
    member_sets = st.sampled_from(["pending", "delayed", "reserved"])
    members = st.lists(st.tuples(st.binary(max_size=80), member_sets), max_size=4) if backend.name == "redis" \
        else st.just([])

    @settings(max_examples=CLAIM_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(records=st.lists(garbage(str(witness)), min_size=1, max_size=4), members=members,
           prefetch=st.sampled_from([1, 4]))
    def run(records: list[str | bytes], members: list[tuple[bytes, str]], prefetch: int) -> None:
        _claim_fuzz(backend, witness, records, members, prefetch)

    run()
