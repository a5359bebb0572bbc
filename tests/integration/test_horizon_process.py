"""`python artisan horizon` with real worker processes on a real redis-server or mariadbd.

Small cooldowns and a fast heartbeat keep every test short; what is checked is the real
thing: processes started, scaled, replaced and stopped, read back from the store.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.Horizon.HorizonState import HorizonState
from app.Horizon.MetricsSnapshot import read_snapshots
from app.Queue.QueueManager import manager
from tests.conftest import read_lines
from tests.fixtures.console_jobs import ReportJob
from tests.fixtures.jobs import RecordJob, SleepJob
from tests.support import ROOT, artisan, wait_until, worker_env

pytestmark = pytest.mark.slow


@pytest.fixture(params=["redis", "mariadb"])
def store(request, queue_env, monkeypatch):
    return _use(request.param, request, monkeypatch)


@pytest.fixture
def redis_store(request, queue_env, monkeypatch):
    return _use("redis", request, monkeypatch)


def _use(kind, request, monkeypatch):
    if kind == "redis":
        from tests.servers_redis import use_redis

        env = use_redis(request.getfixturevalue("redis_server"), monkeypatch)
        env["_CONNECTION"] = "redis"
    else:
        from tests.servers_mariadb import use_mariadb

        env = use_mariadb(request.getfixturevalue("mariadb_server"), request.getfixturevalue("mariadb_database"), monkeypatch)
        env["_CONNECTION"] = "database"
    monkeypatch.setenv("QUEUE_RETRY_AFTER", "2")
    return {**env, "QUEUE_RETRY_AFTER": "2"}


class Horizon:
    """Start masters; on teardown kill any left (and their workers: one process group each)."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env, self.procs = tmp_path, env, []
        self.connection = env["_CONNECTION"]

    def config(self, heartbeat: float = 0.2, top: dict | None = None, **supervisor) -> str:
        block = {"connection": self.connection, "queue": ["default"], "balance": "auto", "sleep": 0.5,
                 "balance_cooldown": 0.5, "timeout": 30, **supervisor}
        path = self.tmp_path / f"horizon-{len(self.procs)}.json"
        path.write_text(json.dumps({"heartbeat": heartbeat, "defaults": {"s1": block}, **(top or {})}))
        return str(path)

    def start(self, config: str, *args: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"horizon-{len(self.procs)}.log"
        env = worker_env({k: v for k, v in self.env.items() if not k.startswith("_")} | {"HORIZON_CONFIG": config})
        proc = subprocess.Popen([sys.executable, str(ROOT / "artisan"), "horizon", *args], cwd=ROOT, env=env,
                                stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.fixture
def horizon(tmp_path):
    made: list[Horizon] = []

    def make(env):
        made.append(Horizon(tmp_path, env))
        return made[-1]
    yield make
    for h in made:
        h.close()


def masters() -> list[dict]:
    return HorizonState(manager().cache).masters()


def processes(name: str | None = None) -> dict[str, int]:
    found = [m for m in masters() if name is None or m["name"] == name]
    return found[0]["supervisors"][0]["processes"] if found else {}


def pids(name: str | None = None) -> list[int]:
    found = [m for m in masters() if name is None or m["name"] == name]
    return [p for group in found[0]["supervisors"][0]["pids"].values() for p in group] if found else []


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def watch(predicate, timeout: float, seen: list) -> bool:
    """wait_until that also records the allocations it saw."""
    def check():
        seen.append(processes())
        return predicate(seen[-1])
    return wait_until(check, timeout, 0.1)


def scaling_lines(log: Path) -> list[tuple[str, str]]:
    return [(line[:23], line) for line in log.read_text(errors="replace").splitlines() if " scaling " in line]


def test_auto_balancing_grows_the_busy_queue_shares_by_load_and_shrinks_when_drained(store, horizon):
    h = horizon(store)
    master = h.start(h.config(queue=["busy", "quiet"], min_processes=1, max_processes=6, balance_max_shift=1))
    assert wait_until(lambda: processes() == {"busy": 1, "quiet": 1}, 20)
    qm = manager()
    driver = qm.connection(h.connection)
    qm.bulk([ReportJob(0.2) for _ in range(150)], queue="busy")
    seen: list = []
    assert watch(lambda p: p.get("busy") == 5, 30, seen), seen[-1]  # max 6 minus the quiet queue's minimum
    assert all(p.get("quiet") == 1 for p in seen if p)
    # every step moved by balance_max_shift, no sooner than the cooldown after the one before
    steps = scaling_lines(master.log)
    assert len(steps) >= 4 and all(re.search(r"busy \d->\d", line) for _, line in steps)
    for _, line in steps:
        assert all(abs(int(after) - int(before)) == 1 for before, after in re.findall(r"(\d)->(\d)", line))
    for _, line in steps[1:]:
        assert float(re.search(r"; ([\d.]+)s since the last change", line).group(1)) >= 0.5
    driver.clear("busy")  # drained: back to the minimum
    assert wait_until(lambda: processes() == {"busy": 1, "quiet": 1}, 30), processes()
    # two queues with different loads: the busier one gets more, the quieter one more than its minimum
    qm.bulk([ReportJob(0.2) for _ in range(150)], queue="busy")
    qm.bulk([ReportJob(0.2) for _ in range(50)], queue="quiet")
    seen = []
    assert watch(lambda p: p.get("quiet", 0) >= 2 and p.get("busy", 0) >= 3, 30, seen), seen[-1]
    assert all(sum(p.values()) <= 6 for p in seen if p)
    driver.clear("busy")
    driver.clear("quiet")
    assert wait_until(lambda: processes() == {"busy": 1, "quiet": 1}, 30), processes()
    assert artisan("horizon:terminate", "--wait", env=h.env).returncode == 0
    assert master.wait(20) == 0


def test_a_killed_worker_is_replaced_and_its_job_runs_again_after_its_lease(redis_store, horizon, witness):
    h = horizon(redis_store)
    master = h.start(h.config(balance="false", max_processes=1))
    assert wait_until(lambda: len(pids()) == 1, 20)
    SleepJob.dispatch(str(witness), 1.0)
    assert wait_until(lambda: any(l.startswith("start") for l in read_lines(witness)), 20)
    [victim] = pids()
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: len(pids()) == 1 and pids() != [victim], 10)
    assert wait_until(lambda: any(l.startswith("done") and l.endswith(" 2") for l in read_lines(witness)), 20), read_lines(witness)
    assert f"worker {victim} of s1 on default killed by SIGKILL" in master.log.read_text()
    [replacement] = pids()
    assert artisan("queue:restart", env=h.env).returncode == 0  # recycles the worker; the master replaces it
    assert wait_until(lambda: len(pids()) == 1 and pids() != [replacement], 15)
    assert f"worker {replacement} of s1 on default finished (queue:restart" in master.log.read_text()
    os.kill(master.pid, signal.SIGTERM)
    assert master.wait(20) == 0


def test_workers_exit_when_the_master_is_killed(redis_store, horizon):
    h = horizon(redis_store)
    master = h.start(h.config(balance="simple", queue=["a", "b"], max_processes=3))
    assert wait_until(lambda: len(pids()) == 3, 20)
    workers = pids()
    os.kill(master.pid, signal.SIGKILL)
    master.wait()
    assert wait_until(lambda: all(gone(p) for p in workers), 8), [p for p in workers if not gone(p)]


def test_terminate_lets_running_jobs_finish_then_the_master_exits_zero(store, horizon, witness):
    h = horizon(store)
    master = h.start(h.config(balance="false", max_processes=2))
    assert wait_until(lambda: len(pids()) == 2, 20)
    ids = [SleepJob.dispatch(str(witness), 1.0) for _ in range(4)]
    assert wait_until(lambda: sum(l.startswith("start") for l in read_lines(witness)) >= 2, 20)
    result = artisan("horizon:terminate", "--wait", env=h.env)
    assert result.returncode == 0 and "Horizon has terminated." in result.stdout
    assert master.wait(10) == 0
    started = {l.split()[2] for l in read_lines(witness) if l.startswith("start")}
    finished = {l.split()[2] for l in read_lines(witness) if l.startswith("done")}
    assert started == finished and len(started) >= 2
    assert len(finished) + manager().size() == len(ids)  # the rest still wait on the queue: nothing lost
    assert artisan("horizon:status", env=h.env).returncode == 1


def test_pause_continue_list_and_a_second_master_of_the_same_name(redis_store, horizon, witness):
    h = horizon(redis_store)
    config = h.config(balance="false", max_processes=1)
    first, second = h.start(config, "--name=host-a"), h.start(config, "--name=host-b")
    assert wait_until(lambda: len(pids("host-a")) == 1 and len(pids("host-b")) == 1, 20)
    listed = artisan("horizon:list", env=h.env).stdout
    assert "host-a" in listed and "host-b" in listed and "*: 1" in listed
    same = artisan("horizon", "--name=host-a", env=h.env | {"HORIZON_CONFIG": config})
    assert same.returncode == 1 and len(same.stderr.strip().splitlines()) == 1
    assert "a horizon master named 'host-a' is already running" in same.stderr
    assert artisan("horizon:pause", env=h.env).returncode == 0
    assert wait_until(lambda: all(m["status"] == "paused" for m in masters()), 10)
    status = artisan("horizon:status", env=h.env)
    assert status.returncode == 1 and "paused" in status.stdout
    for i in range(4):
        RecordJob.dispatch(str(witness), f"job{i}")
    assert not wait_until(lambda: read_lines(witness), 2.5)  # paused: nobody takes them
    assert manager().size() == 4
    assert artisan("horizon:continue", env=h.env).returncode == 0
    assert wait_until(lambda: len(read_lines(witness)) == 4, 15)
    assert artisan("horizon:status", env=h.env).returncode == 0
    first.send_signal(signal.SIGUSR2)  # Horizon's local signals: pause, then continue
    assert wait_until(lambda: [m["status"] for m in masters()] == ["paused", "running"], 10)
    first.send_signal(signal.SIGCONT)
    assert wait_until(lambda: [m["status"] for m in masters()] == ["running", "running"], 10)
    assert artisan("horizon:terminate", "--wait", env=h.env).returncode == 0
    assert first.wait(10) == 0 and second.wait(10) == 0


def test_bad_config_is_one_line_exit_1_and_nothing_starts(redis_store, horizon, tmp_path):
    h = horizon(redis_store)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaults": {"s1": {"connection": "redis", "min_processes": 3, "max_processes": 2}}}))
    result = artisan("horizon", env=h.env | {"HORIZON_CONFIG": str(bad)})
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "horizon config: supervisor 's1': min_processes (3) is above max_processes (2)"]
    assert masters() == []
    snapshot = artisan("horizon:snapshot", env=h.env)
    assert snapshot.returncode == 0 and "Metrics snapshot stored" in snapshot.stdout
    assert len(read_snapshots(manager().cache)) == 1


def test_a_master_over_its_memory_limit_stops_its_workers_and_exits_12(redis_store, horizon):
    h = horizon(redis_store)
    master = h.start(h.config(balance="false", max_processes=1, top={"memory_limit": 1}))
    assert master.wait(30) == 12
    assert "uses more than memory_limit (1 MB); terminating with status 12" in master.log.read_text()
    assert masters() == []
