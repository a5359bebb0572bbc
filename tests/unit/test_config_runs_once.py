"""config/queue.py runs once per manager state: its listeners fire once per event, its queues are defined once."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import config
from app.Queue.events import JobQueued
from tests.fixtures.jobs import NoopJob

CONFIG_WITH_LISTENER = '''
from config.queue_settings_for_test import settings  # noqa: F401
from app.Queue.QueueManager import define_queue, manager
from app.Queue.events import JobQueued
import tests.unit.test_config_runs_once as probe

probe.BODY_RUNS.append(1)
define_queue("emails", max_attempts=5)
manager().events.listen(JobQueued, lambda event: probe.SEEN.append(event.uuid))
'''

BODY_RUNS: list[int] = []
SEEN: list[str] = []


@pytest.fixture
def config_with_listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put a config/queue.py that registers a listener (as a user would) ahead of the real one."""
    import importlib

    real = importlib.import_module("config.queue")
    shim = types.ModuleType("config.queue_settings_for_test")
    shim.settings = real.settings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "config.queue_settings_for_test", shim)
    pkg = tmp_path / "cfg"
    pkg.mkdir()
    (pkg / "queue.py").write_text(CONFIG_WITH_LISTENER)
    monkeypatch.setattr(config, "__path__", [str(pkg), *config.__path__])
    monkeypatch.delitem(sys.modules, "config.queue")
    BODY_RUNS.clear()
    SEEN.clear()
    yield
    sys.modules.pop("config.queue", None)


def test_listener_from_config_runs_once_per_event_on_first_boot(config_with_listener, queue_env):
    queue_env.reset()
    job_id = NoopJob().dispatch()
    assert BODY_RUNS == [1]
    assert SEEN == [job_id]
    assert queue_env.definitions["emails"].max_attempts == 5
    # the config's lambda, once (built-in listeners such as the audit trail are bound methods)
    assert sum(1 for f in queue_env.events.listeners[JobQueued] if f.__name__ == "<lambda>") == 1


def test_config_runs_again_once_after_a_reset(config_with_listener, queue_env):
    queue_env.reset()
    NoopJob().dispatch()
    queue_env.reset()
    assert "emails" not in queue_env.definitions
    job_id = NoopJob().dispatch()
    assert BODY_RUNS == [1, 1]
    assert SEEN[-1] == job_id and SEEN.count(job_id) == 1
    assert queue_env.definitions["emails"].max_attempts == 5
