"""A single dispatch resolves its (queue, connection) once and reads the configuration as it is now:
a changed default connection, a connection's default queue edited in place, a queue defined on
another connection and a manager reset are all seen by the very next dispatch."""
from __future__ import annotations

from app.Queue.QueueManager import define_queue
from config.queue import settings
from tests.conftest import read_lines
from tests.fixtures.jobs import RecordJob


def test_a_reset_to_another_default_connection_is_seen_by_the_next_dispatch(queue_env, witness):
    queued = RecordJob(str(witness), "queued").dispatch()
    assert queue_env.size("default", "database") == 1 and read_lines(witness) == []
    config = settings()
    config["default"] = "sync"
    queue_env.reset(config)
    RecordJob(str(witness), "inline").dispatch()  # the sync connection runs it at once
    assert [line.split()[0] for line in read_lines(witness)] == ["inline"]
    assert queued


def test_a_connections_default_queue_edited_in_place_is_seen_by_the_next_dispatch(queue_env, witness, monkeypatch):
    RecordJob(str(witness)).dispatch()
    monkeypatch.setitem(queue_env.config["connections"]["database"], "queue", "elsewhere")
    RecordJob(str(witness)).dispatch()
    assert (queue_env.size("default", "database"), queue_env.size("elsewhere", "database")) == (1, 1)


def test_a_queue_defined_on_another_connection_after_a_dispatch_routes_the_next_one(queue_env, witness):
    RecordJob(str(witness), "first").on_queue("routed").dispatch()
    assert queue_env.size("routed", "database") == 1
    define_queue("routed", connection="sync")
    RecordJob(str(witness), "second").on_queue("routed").dispatch()
    assert queue_env.size("routed", "database") == 1
    assert [line.split()[0] for line in read_lines(witness)] == ["second"]
