"""Horizon state and metrics snapshots in the cache store, on sqlite, mariadb and redis."""
from __future__ import annotations

import os
import socket

import pytest

from app.Horizon.HorizonState import INDEX_KEY, NAME_LOCK_PREFIX, RECORD_PREFIX, HorizonState
from app.Horizon.MetricsSnapshot import SNAPSHOTS_KEY, latest_snapshot, read_snapshots, take_snapshot
from app.Jobs.MetricsStore import MetricsStore, Sample
from app.Queue.errors import ConfigurationError
from app.Queue.Support.time import now
from tests.fixtures.console_jobs import ReportJob


def record(name: str, status: str = "running", processes: dict | None = None) -> dict:
    return {"name": name, "host": "h-" + name, "pid": 1, "status": status,
            "supervisors": [{"name": "s1", "connection": "database", "queues": ["default"], "balance": "auto",
                             "processes": processes or {"default": 2}}]}


def start(state: HorizonState, name: str, status: str = "running") -> str:
    token = state.claim(name, "h-" + name, os.getpid(), 30)
    state.heartbeat(record(name, status), token, 30)
    state.join(name)
    return token


def test_masters_on_several_hosts_are_listed_and_status_follows_them(backend):
    state = HorizonState(backend.manager.cache)
    assert state.masters() == [] and state.status() == "inactive"
    start(state, "web-1")
    start(state, "web-2", "paused")
    assert [m["name"] for m in state.masters()] == ["web-1", "web-2"]
    assert state.masters()[0]["supervisors"][0]["processes"] == {"default": 2}
    assert state.status() == "running"
    state.heartbeat(record("web-1", "paused"), backend.manager.cache.get(NAME_LOCK_PREFIX + "web-1")["token"], 30)
    assert state.status() == "paused"


def test_a_second_master_with_the_same_name_is_refused_while_the_first_lives(backend):
    state = HorizonState(backend.manager.cache)
    host = socket.gethostname()
    token = state.claim("web-1", host, os.getpid(), 30)
    with pytest.raises(ConfigurationError, match=r"a horizon master named 'web-1' is already running on .* \(pid \d+\)"):
        state.claim("web-1", host, os.getpid(), 30)
    state.leave("web-1", token)
    state.leave("web-1", state.claim("web-1", host, os.getpid(), 30))  # free again


def test_a_name_held_by_a_dead_process_on_this_host_is_taken_back(backend):
    state = HorizonState(backend.manager.cache)
    host = socket.gethostname()
    dead = 2**22 + 12345  # above pid_max on most systems: no such process
    backend.manager.cache.put(NAME_LOCK_PREFIX + "web-1", {"host": host, "pid": dead, "token": "x"}, 30)
    assert state.claim("web-1", host, os.getpid(), 30)
    backend.manager.cache.put(NAME_LOCK_PREFIX + "web-2", {"host": "other-host", "pid": dead, "token": "x"}, 30)
    with pytest.raises(ConfigurationError):
        state.claim("web-2", host, os.getpid(), 30)  # another host's master: only its record's expiry frees it


def test_commands_reach_the_named_master_and_a_restart_clears_them(backend):
    state = HorizonState(backend.manager.cache)
    start(state, "web-1")
    start(state, "web-2")
    state.send("pause", ["web-1"])
    assert state.commands("web-1") == (True, False) and state.commands("web-2") == (False, False)
    state.send("continue", ["web-1"])
    state.send("terminate", ["web-2"])
    assert state.commands("web-1") == (False, False) and state.commands("web-2") == (False, True)
    state.join("web-2")  # a new master of that name does not inherit the old command
    assert state.commands("web-2") == (False, False)


def test_a_master_whose_heartbeat_expired_drops_out_and_junk_in_the_store_is_ignored(backend):
    cache = backend.manager.cache
    state = HorizonState(cache)
    start(state, "web-1")
    cache.forget(RECORD_PREFIX + "web-1")  # as if its ttl passed after a SIGKILL
    cache.put(RECORD_PREFIX + "evil", {"name": 3, "status": "<b>"})
    cache.put(INDEX_KEY, {**cache.get(INDEX_KEY), "evil": 1})
    assert state.masters() == []
    assert cache.get(INDEX_KEY) == {}
    cache.put(INDEX_KEY, ["not", "a", "dict"])
    assert state.masters() == [] and state.status() == "inactive"


def test_snapshot_stores_queue_and_job_metrics_and_keeps_a_bounded_history(backend):
    qm = backend.manager
    for _ in range(3):
        ReportJob.dispatch()  # pending on the default queue
    t = now()
    MetricsStore(qm.engine()).record(
        [Sample("ReportJob", "default", r, True, t - 30) for r in (0.01, 0.02, 0.03, 0.04, 1.0)]
        + [Sample("EmailJob", "emails", 0.2, False, t - 30)])
    masters = [record("web-1", processes={"default": 3})]
    masters[0]["supervisors"][0]["connection"] = backend.connection
    snap = take_snapshot(qm, masters, kept=3)
    default = snap["queues"][f"{backend.connection}:default"]
    assert default["pending"] == 3 and default["processes"] == 3
    assert default["throughput"] == pytest.approx(5 / 5)  # 5 jobs over the default 5-minute window
    assert 0.02 <= default["runtime_p50"] <= 0.04 and 0.8 <= default["runtime_p95"] <= 1.0
    assert default["wait"] == pytest.approx(3 * default["runtime_avg"] / 3)
    assert snap["jobs"]["EmailJob"]["failed"] == 1 and snap["jobs"]["ReportJob"]["processed"] == 5
    assert any(k.endswith(":emails") for k in snap["queues"])  # seen in metrics, not supervised
    for _ in range(4):
        take_snapshot(qm, masters, kept=3)
    history = read_snapshots(qm.cache)
    assert len(history) == 3 and history[-1] == latest_snapshot(qm.cache)
    assert [s["taken_at"] for s in history] == sorted(s["taken_at"] for s in history)


def test_snapshot_readers_drop_malformed_entries(backend):
    cache = backend.manager.cache
    good = {"taken_at": 1.0, "window": 300, "queues": {"database:a": {"connection": "database", "queue": "a", "pending": 2}},
            "jobs": {"J": {"throughput": 1.5}}}
    cache.put(SNAPSHOTS_KEY, [good, {"taken_at": "x"}, 7, {"taken_at": 2, "queues": [], "jobs": {}},
                              {"taken_at": 3, "queues": {"q": {"queue": "q", "connection": "c", "pending": "many"}},
                               "jobs": {"J": {"failed": True}}}])
    snapshots = read_snapshots(cache)
    assert [s["taken_at"] for s in snapshots] == [1.0, 3.0]
    assert snapshots[0]["queues"]["database:a"]["pending"] == 2.0 and snapshots[0]["jobs"]["J"]["processed"] == 0.0
    assert snapshots[1]["queues"] == {} and snapshots[1]["jobs"] == {}
    cache.put(SNAPSHOTS_KEY, {"not": "a list"})
    assert read_snapshots(cache) == [] and latest_snapshot(cache) is None
