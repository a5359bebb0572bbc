"""Throwaway redis-server instances for tests: free loopback port, temp dir, stopped by pid.

`redis_server` (session) runs without persistence for the driver suites; `redis_factory`
(function) starts extra servers, e.g. `appendonly yes` ones that a test restarts.
A missing binary skips with an install hint, except under CI, where it fails.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.process_guard import die_with_parent, track

INSTALL_HINT = "redis-server not installed: apt-get install redis-server"
START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return found


@dataclass
class RedisServer:
    """One redis-server process; `restart()` stops it by pid and starts it again on the same dir and port."""

    binary: str
    port: int
    dir: Path
    extra: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"), *self.extra]
        self.proc = track(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                           preexec_fn=die_with_parent(signal.SIGTERM)))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.dir / 'redis.log'}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {START_TIMEOUT:g} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, db: int = 0):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db, decode_responses=True)

    def env(self, db: int = 0) -> dict[str, str]:
        """REDIS_* settings pointing the app (and worker subprocesses) at this server."""
        return {"REDIS_HOST": self.host, "REDIS_PORT": str(self.port), "REDIS_DB": str(db)}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A non-persistent redis-server for the whole session."""
    binary = _binary()
    with tempfile.TemporaryDirectory(prefix="redis-test-") as tmp:
        server = RedisServer(binary, _free_port(), Path(tmp)).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start extra servers for one test (e.g. `redis_factory("--appendonly", "yes")`); all stopped after it."""
    binary = _binary()
    started: list[RedisServer] = []

    def create(*extra: str) -> RedisServer:
        directory = tmp_path / f"redis-{len(started)}"
        directory.mkdir()
        server = RedisServer(binary, _free_port(), directory, tuple(extra)).start()
        started.append(server)
        return server

    try:
        yield create
    finally:
        for server in started:
            server.stop()


def use_redis(server: RedisServer, monkeypatch: pytest.MonkeyPatch, db: int = 0) -> dict[str, str]:
    """Point the app at `server` for queues and cache, flush the db and reset the manager."""
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    env = {**server.env(db), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    env_mod.reload()
    server.client(db).flushdb()
    manager().reset()
    return env
