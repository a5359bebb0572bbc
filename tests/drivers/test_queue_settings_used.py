"""Queue settings are used or refused, never ignored: priority_weight / --queue=q:w, a connection's max_attempts."""
from __future__ import annotations

import pytest

from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import define_queue
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob
from tests.fixtures.parity_jobs import NoTriesFailingJob
from tests.support import artisan, assert_one_line_error


def fill(backend: Backend, witness, per_queue: int = 8) -> None:
    for queue in ("high", "default"):
        backend.manager.bulk([RecordJob(witness, queue) for _ in range(per_queue)], queue=queue, connection=backend.connection)


def served(backend: Backend, witness, options: WorkerOptions, jobs: int = 8) -> list[str]:
    opts = WorkerOptions(**{**{f: getattr(options, f) for f in options.__slots__}, "max_jobs": jobs, "sleep": 0})  # type: ignore[attr-defined]
    Worker(backend.manager, opts).daemon(backend.connection, ["high", "default"])
    return [line.split()[0] for line in read_lines(witness)]


def test_queue_list_is_strict_order_without_weights(backend: Backend, witness):
    fill(backend, witness)
    assert served(backend, witness, WorkerOptions()) == ["high"] * 8


def test_worker_weights_share_jobs_three_to_one(backend: Backend, witness):
    fill(backend, witness)
    order = served(backend, witness, WorkerOptions(queue_weights=(("high", 3), ("default", 1))))
    assert order == ["high", "high", "default", "high"] * 2  # smooth weighted round robin


def test_define_queue_priority_weight_is_used(backend: Backend, witness):
    define_queue("high", priority_weight=1)
    define_queue("default", priority_weight=1)
    fill(backend, witness)
    got = served(backend, witness, WorkerOptions())
    assert got == ["high", "default"] * 4, got


def test_an_empty_heavy_queue_does_not_idle_the_worker(backend: Backend, witness):
    backend.manager.bulk([RecordJob(witness, "default") for _ in range(3)], queue="default", connection=backend.connection)
    assert served(backend, witness, WorkerOptions(queue_weights=(("high", 5),)), jobs=3) == ["default"] * 3


def test_connection_max_attempts_is_read(backend: Backend, witness, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(backend.manager.config["connections"][backend.connection], "max_attempts", 2)
    NoTriesFailingJob(witness).on_connection(backend.connection).dispatch()
    Worker(backend.manager, WorkerOptions(max_tries=5, sleep=0, stop_when_empty=True)).daemon(backend.connection, ["default"])
    assert read_lines(witness) == ["attempt 1", "attempt 2"]
    assert len(backend.manager.failed.all()) == 1


def test_define_queue_max_attempts_wins_over_the_connection(backend: Backend, witness, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(backend.manager.config["connections"][backend.connection], "max_attempts", 2)
    define_queue("default", max_attempts=3)
    NoTriesFailingJob(witness).on_connection(backend.connection).dispatch()
    Worker(backend.manager, WorkerOptions(max_tries=5, sleep=0, stop_when_empty=True)).daemon(backend.connection, ["default"])
    assert read_lines(witness) == ["attempt 1", "attempt 2", "attempt 3"]


def test_unknown_connection_setting_is_refused(queue_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(queue_env.config["connections"]["database"], "connection", "default")
    with pytest.raises(ConfigurationError, match="unknown setting 'connection'"):
        queue_env.connection("database")


def test_bad_priority_weight_is_refused():
    with pytest.raises(ValueError, match="priority_weight must be a positive integer"):
        define_queue("emails", priority_weight=0)


def test_bad_queue_weight_is_one_line_error():
    assert_one_line_error(artisan("queue:work", "--queue=high:x,default", "--once"), "--queue weight", "high")


def test_queue_listen_refuses_weights():
    assert_one_line_error(artisan("queue:listen", "--queue=high:3,default", "--stop-when-empty"), "weights", "queue:work")


def test_unknown_define_queue_option_is_refused():
    with pytest.raises(ConfigurationError, match="define_queue\\('emails'\\): unknown option 'priority'"):
        define_queue("emails", priority=3)
    with pytest.raises(ValueError, match="encryption_enabled must be True or False"):
        define_queue("emails", encryption_enabled="yes")
