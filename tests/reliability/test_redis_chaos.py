"""Invariant 1 on Redis with real worker processes: SIGKILLed workers, and a restarted AOF server."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from app.Queue.QueueManager import QueueManager
from tests.conftest import read_lines
from tests.fixtures.jobs import SleepJob
from tests.servers_redis import RedisServer, use_redis
from tests.reliability.chaos import Pusher, run_with_kills
from tests.support import start_worker, stop

pytestmark = pytest.mark.slow

JOBS = 2000
DEADLINE = 45.0




@pytest.mark.parametrize("prefetch", [1, 50], ids=["one-at-a-time", "prefetch-50"])
def test_sigkilled_workers_lose_no_job_and_duplicate_at_most_one_per_kill(
        redis_server: RedisServer, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch, witness: Path, tmp_path: Path,
        prefetch: int):
    env = {**use_redis(redis_server, monkeypatch), "QUEUE_RETRY_AFTER": "5"}  # renewed every 1.7 s; 5 s tolerates a loaded 2-core CI box
    ids = set(queue_env.bulk([SleepJob(str(witness), 0.01, "c") for _ in range(JOBS)]))
    spawned = iter(range(1000))

    def spawn() -> subprocess.Popen[bytes]:
        return start_worker(["redis", "--queue=default", "--sleep=1", "--tries=0", f"--prefetch={prefetch}",
                             f"--name=c{next(spawned)}"],
                            env=env, log=tmp_path / "workers.log")

    result = run_with_kills(spawn, witness, JOBS, DEADLINE, drained=lambda: queue_env.size("default", "redis") == 0)
    print("\n" + result.summary(f"redis --prefetch={prefetch}", JOBS))
    assert set(result.done) == ids
    assert result.duplicates <= result.kills
    left = queue_env.connection("redis").reserved("default")
    assert queue_env.size("default", "redis") == 0, f"left behind: {left}"




@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_jobs_acknowledged_before_an_aof_server_restart_are_not_lost(
        sig: int, redis_factory, queue_env: QueueManager, monkeypatch: pytest.MonkeyPatch, witness: Path, tmp_path: Path):
    # `always`: Redis replies to a push only after its AOF write is fsynced, so every push that
    # returned before the stop must survive it. (`everysec`, the production default, may lose
    # up to about 2 s of writes to a SIGKILL; that is a configuration trade-off, not a bug to test.)
    server: RedisServer = redis_factory("--appendonly", "yes", "--appendfsync", "always")
    env = {**use_redis(server, monkeypatch), "QUEUE_RETRY_AFTER": "3"}
    args = ["redis", "--queue=default", "--sleep=1", "--tries=0"]
    workers = [start_worker(args, env=env, log=tmp_path / "workers.log") for _ in range(2)]
    pusher = Pusher(witness)
    pusher.start()
    try:
        time.sleep(2.5)
        restarted_at = time.monotonic()
        server.stop(sig)
        time.sleep(0.3)
        server.start()
        time.sleep(1.0)
        pusher.halt.set()
        pusher.join(15)
        must_survive = {job_id for at, job_id in pusher.pushed if at < restarted_at}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not must_survive <= _ran(witness):
            workers = [w if w.poll() is None else start_worker(args, env=env, log=tmp_path / "workers.log") for w in workers]
            time.sleep(0.2)
    finally:
        pusher.halt.set()
        for proc in workers:
            stop(proc)
    ran = _ran(witness)
    late = {job_id for at, job_id in pusher.pushed if at >= restarted_at}
    print(f"\nredis {signal.Signals(sig).name} restart: {len(pusher.pushed)} pushed ({pusher.refused} pushes refused while down), "
          f"{len(must_survive)} acknowledged before the stop: all must run, {len(must_survive - ran)} lost; "
          f"{len(late - ran)} of {len(late)} later pushes lost")
    assert must_survive and must_survive <= ran


def _ran(witness: Path) -> set[str]:
    return {line.split()[1] for line in read_lines(witness)}
