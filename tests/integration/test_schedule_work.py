"""Two real `schedule:work` processes on one store with on_one_server(): each due time runs exactly once.

The processes run on SCHEDULE_TEST_CLOCK (one scheduler minute per real second),
so they walk through several due minutes in seconds; claims, keys and
the exactly-once logic are the real ones, on a real redis-server or mariadbd.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.Queue.QueueManager import manager
from app.Scheduling.Mutexes import ScheduleMutexes
from app.Scheduling.ScheduleLoader import load_schedule
from tests.conftest import read_lines
from tests.support import ROOT, artisan, stop, wait_until, worker_env

pytestmark = pytest.mark.slow
UTC = timezone.utc
SPEED = 60.0           # one scheduler minute per real second
LEAD = 4 * 60          # scheduler seconds before the first watched minute: time for both processes to boot
MINUTES = 8            # watched due minutes


@pytest.fixture(params=["redis", "mariadb"])
def store(request, queue_env, monkeypatch, witness):
    """Point this test and its processes at a real store; returns the env the processes get."""
    if request.param == "redis":
        from tests.servers_redis import use_redis

        env = use_redis(request.getfixturevalue("redis_server"), monkeypatch)
    else:
        from tests.servers_mariadb import use_mariadb

        env = use_mariadb(request.getfixturevalue("mariadb_server"), request.getfixturevalue("mariadb_database"), monkeypatch)
    schedule_env = {"SCHEDULE_ROUTES": "tests.fixtures.schedules:two_servers", "SCHEDULE_WITNESS": str(witness)}
    for key, value in schedule_env.items():
        monkeypatch.setenv(key, value)
    return {**env, **schedule_env}


def fast_clock(first_minute: datetime) -> tuple[str, datetime]:
    """A SCHEDULE_TEST_CLOCK reaching `first_minute` LEAD scheduler seconds from now, stopping MINUTES later."""
    anchor = time.time()
    stop_minute = first_minute + timedelta(minutes=MINUTES - 1)
    clock = {"origin": first_minute.timestamp() - LEAD, "anchor": anchor, "speed": SPEED, "stop": stop_minute.timestamp()}
    return json.dumps(clock), stop_minute


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "artisan"), "schedule:work", "-v"], cwd=ROOT,
                            env=worker_env(env), stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def witnessed(path: Path) -> dict[str, Counter[int]]:
    """Per tag, how many times each due minute (unix) was run."""
    seen: dict[str, Counter[int]] = {}
    for line in read_lines(path):
        tag, due, _pid = line.split()
        seen.setdefault(tag, Counter())[int(due)] += 1
    return seen


def minutes(first: datetime, last: datetime, step: int = 1) -> set[int]:
    return {int((first + timedelta(minutes=i)).timestamp()) for i in range(0, int((last - first).total_seconds() // 60) + 1)
            if (first + timedelta(minutes=i)).minute % step == 0}


def log_text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def test_two_schedulers_run_each_due_time_once_and_a_failing_event_stops_nothing(store, witness, tmp_path):
    first = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    clock, last = fast_clock(first)
    env = {**store, "SCHEDULE_TEST_CLOCK": clock}
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_scheduler(env, log) for log in logs]
    try:
        for proc in procs:
            assert proc.wait(60) == 0
    finally:
        for proc in procs:
            stop(proc, signal.SIGKILL)
    outputs = [log.read_text(errors="replace") for log in logs]
    seen = witnessed(witness)
    calls = seen["call"]
    start = datetime.fromtimestamp(min(calls), UTC)
    assert start <= first, outputs  # both booted before the watched minutes began
    every_minute = minutes(start, last)
    assert calls == Counter({m: 1 for m in every_minute})
    assert seen["after"] == calls  # the event after the failing one ran every minute too
    assert seen["two"] == Counter({m: 1 for m in minutes(start, last, 2)})
    assert manager().size("default") == len(every_minute)  # one job dispatched per due minute
    for out in outputs:  # each process evaluated every watched minute (-v prints one line per minute)
        for m in minutes(first, last):
            assert datetime.fromtimestamp(m, UTC).strftime("%Y-%m-%d %H:%M") in out, out
    for out in outputs:  # they really competed: each ran some due times and left others to the other
        assert "DONE" in out and "elsewhere" in out, out
    joined = "\n".join(outputs)
    assert "scheduled <b>boom</b>" in joined and "Traceback" in joined  # the failure is logged with its traceback
    listed = artisan("schedule:list", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("| explode")]
    assert f"failed {last:%Y-%m-%d %H:%M} UTC" in row and "RuntimeError: scheduled <b>boom</b>" in row


def test_killing_one_scheduler_leaves_the_other_running_each_due_time_once(store, witness, tmp_path):
    first = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    clock, last = fast_clock(first)
    env = {**store, "SCHEDULE_TEST_CLOCK": clock}
    victim, survivor = start_scheduler(env, tmp_path / "victim.log"), start_scheduler(env, tmp_path / "survivor.log")
    try:
        third = int((first + timedelta(minutes=2)).timestamp())
        assert wait_until(lambda: third in witnessed(witness).get("call", Counter()), 60)
        victim.send_signal(signal.SIGKILL)  # wherever it is: between minutes or inside one
        victim.wait(10)
        assert survivor.wait(60) == 0
    finally:
        stop(victim, signal.SIGKILL)
        stop(survivor, signal.SIGKILL)
    seen = witnessed(witness)
    start = datetime.fromtimestamp(min(seen["call"]), UTC)
    every_minute = minutes(start, last)
    mutexes = ScheduleMutexes(manager())
    schedule = load_schedule()
    for tag, name in (("call", "record-call"), ("after", "after-explode")):
        assert max(seen[tag].values()) == 1, (tag, seen[tag])  # never twice
        missing = every_minute - set(seen[tag])
        # A due time can be lost only if the killed process had claimed it (at most once, never twice).
        assert len(missing) <= 1, (tag, missing)
        event = schedule.find(name)[0]
        for m in missing:
            holder = mutexes.claimed_by(event, datetime.fromtimestamp(m, UTC)) or ""
            assert f":{victim.pid}:" in holder, (tag, m, holder)
    after_kill = {m for m in every_minute if m > max(seen["call"]) - 60 * 3}
    assert after_kill <= set(seen["call"])  # the survivor ran every minute to the end
    assert len(every_minute) - 1 <= manager().size("default") <= len(every_minute)


def test_schedule_work_exits_0_on_sigterm(queue_env, witness, tmp_path):
    env = {"SCHEDULE_ROUTES": "tests.fixtures.schedules:console", "SCHEDULE_WITNESS": str(witness)}
    log = tmp_path / "work.log"
    proc = start_scheduler(env, log)
    try:
        assert wait_until(lambda: "scheduled event(s) at the start of every minute" in log_text(log), 30), log_text(log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        stop(proc, signal.SIGKILL)
