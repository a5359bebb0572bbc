"""Real processes: worker heartbeats and metrics across processes, queue:listen, queue:top in a terminal (tmux)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time

from app.Jobs.MetricsCollector import JobMetrics
from app.Queue.WorkerRegistry import HEARTBEAT_TTL, WorkerRegistry
from tests.conftest import read_lines
from tests.process_guard import die_with_parent, track
from tests.fixtures.jobs import RecordJob, SleepJob
from tests.support import ROOT, artisan, start_worker, stop, wait_until, worker_env


def test_worker_heartbeat_shows_its_running_job_and_leaves_on_stop(queue_env, witness, tmp_path):
    SleepJob.dispatch(str(witness), 3)
    proc = start_worker(["--sleep=0.1", "--name=hb"], log=tmp_path / "worker.log")
    try:
        registry = WorkerRegistry(queue_env.cache)
        assert wait_until(lambda: any(w.get("current") for w in registry.workers()[0]), timeout=20)
        [record] = registry.workers()[0]
        assert record["pid"] == proc.pid and record["name"] == "hb" and record["queues"] == ["default"]
        assert record["current"]["job"] == "SleepJob"
        top = artisan("queue:top", "--iterations=1")
        assert top.returncode == 0 and record["id"][:31] in top.stdout and "SleepJob" in top.stdout
        health = artisan("queue:health", "--json")
        assert health.returncode == 0, health.stdout + health.stderr
        assert json.loads(health.stdout)["healthy"] is True
        assert wait_until(lambda: "done" in witness.read_text(), timeout=20)
        RecordJob.dispatch(str(witness))
        assert wait_until(lambda: JobMetrics.get_job_metrics("RecordJob").count == 1, timeout=10)  # flushed within ~1 s
        assert JobMetrics.get_job_metrics("SleepJob").avg_execution_time >= 3
    finally:
        assert stop(proc) == 0
    assert registry.workers() == ([], [])


def test_killed_worker_is_reported_by_health(queue_env, tmp_path, artisan_cmd):
    proc = start_worker(["--sleep=0.1"], log=tmp_path / "worker.log")
    registry = WorkerRegistry(queue_env.cache)
    assert wait_until(lambda: bool(registry.workers()[0]), timeout=20)
    proc.kill()
    proc.wait()
    with freeze_time(datetime.fromtimestamp(time.time() + HEARTBEAT_TTL + 2, tz=timezone.utc)):  # the record expires; the index entry remains
        live, gone = registry.workers()
        assert live == [] and len(gone) == 1
        health = artisan_cmd("queue:health")
        assert "stopped without saying goodbye (killed?)" in health.out
    assert registry.workers() == ([], [])


LIVE_JOB = '''
from app.Jobs.Job import Job

class LiveJob(Job):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def handle(self):
        with open(self.path, "a") as f:
            f.write("{version}\\n")
'''


def test_listen_runs_each_job_in_a_fresh_process_so_code_changes_apply(queue_env, witness, tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / "livejobs.py").write_text(LIVE_JOB.format(version="v1"))
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv("QUEUE_ALLOWED_JOB_MODULES", "app.,tests.fixtures,livejobs")
    from config import env as env_mod

    env_mod.reload()
    queue_env.reset()
    import livejobs

    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{code}"}
    log = open(tmp_path / "listen.log", "wb")
    listener = track(subprocess.Popen([sys.executable, str(ROOT / "artisan"), "queue:listen", "--sleep=0.1", "--max-jobs=2"],
                                      cwd=ROOT, env=worker_env(env), stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL)))
    try:
        livejobs.LiveJob.dispatch(str(witness))
        assert wait_until(lambda: read_lines(witness) == ["v1"], timeout=30)
        (code / "livejobs.py").write_text(LIVE_JOB.format(version="v2"))
        livejobs.LiveJob.dispatch(str(witness))
        assert listener.wait(30) == 0
    finally:
        stop(listener)
        sys.modules.pop("livejobs", None)
    assert read_lines(witness) == ["v1", "v2"]
    assert queue_env.size("default") == 0


def test_listen_stops_when_empty_and_rejects_bad_options(queue_env):
    ran = artisan("queue:listen", "--stop-when-empty")
    assert ran.returncode == 0 and "Listening" in ran.stdout
    bad = artisan("queue:listen", "--sleep=never")
    assert bad.returncode == 1 and bad.stderr.strip() == "--sleep must be a number, got 'never'"
    bad = artisan("queue:listen", "nowhere")
    assert bad.returncode == 1 and "unknown queue connection 'nowhere'" in bad.stderr


def need_tmux() -> None:
    """Skip with an install hint when tmux is missing; under CI (.ci/run installs it) fail instead."""
    if shutil.which("tmux") is None:
        hint = "tmux is not installed: apt-get install tmux"
        pytest.fail(hint) if os.environ.get("CI") else pytest.skip(hint)


@pytest.mark.parametrize("key", ["q", "C-c"])
def test_top_runs_full_screen_in_a_terminal_and_quits_on_q_or_ctrl_c(queue_env, tmp_path, key):
    need_tmux()
    socket = f"qtop-{os.getpid()}"
    env = worker_env()
    exports = " ".join(f"{k}='{v}'" for k, v in env.items() if k.startswith(("APP_", "DB_", "QUEUE_", "CACHE_", "PYTHON")))
    cmd = f"env {exports} {sys.executable} {ROOT / 'artisan'} queue:top --interval=0.2; echo exit=$? > {tmp_path / 'rc'}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "140", "-y", "30", cmd], check=True, cwd=ROOT)
    try:
        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout

        assert wait_until(lambda: "WORKERS (0)" in screen(), timeout=20)
        assert "QUEUE" in screen() and "default" in screen()
        subprocess.run([*tmux, "send-keys", key], check=True)
        assert wait_until(lambda: (tmp_path / "rc").exists(), timeout=10)
        assert (tmp_path / "rc").read_text().strip() == "exit=0"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_workers_starting_together_all_join_the_registry(queue_env, tmp_path):
    procs = [start_worker(["--sleep=0.2", f"--name=w{i}"], log=tmp_path / f"w{i}.log") for i in range(3)]
    registry = WorkerRegistry(queue_env.cache)
    try:
        assert wait_until(lambda: len(registry.workers()[0]) == 3, timeout=30)
        assert sorted(w["name"] for w in registry.workers()[0]) == ["w0", "w1", "w2"]
    finally:
        for proc in procs:
            stop(proc)
    assert registry.workers() == ([], [])


def test_sigterm_lets_the_listeners_child_finish_its_job(queue_env, witness, tmp_path):
    SleepJob.dispatch(str(witness), 1.5)
    listener = track(subprocess.Popen([sys.executable, str(ROOT / "artisan"), "queue:listen", "--sleep=0.1"], cwd=ROOT,
                                      env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM)))
    try:
        assert wait_until(lambda: witness.exists() and "start" in witness.read_text(), timeout=30)
        listener.send_signal(signal.SIGTERM)
        assert listener.wait(20) == 0
    finally:
        stop(listener)
    assert [line.split()[0] for line in read_lines(witness)] == ["start", "done"]
    assert queue_env.size("default") == 0
