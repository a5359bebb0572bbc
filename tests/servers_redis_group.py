"""Many redis-server processes in one process group (cluster, sentinel, TLS fixtures).

A placeholder `sleep` leads the group, so every server joins it even after others were
killed; `kill_all` (a fixture finalizer and an atexit hook) ends the whole group at once.
Ports are picked below 55535 with port + 10000 free too (the cluster bus).
"""
from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 15.0


def free_port_pair() -> int:
    """A loopback port that is free, below 55535, whose +10000 bus port is free too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            for p in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair found")


@dataclass
class ProcessGroup:
    """A process group of servers: `spawn` adds one, `kill_all` ends every member."""

    leader: subprocess.Popen[bytes] | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.leader = subprocess.Popen(["sleep", "86400"], process_group=0)
        atexit.register(self.kill_all)

    @property
    def pgid(self) -> int:
        assert self.leader is not None
        return self.leader.pid

    def spawn(self, args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                process_group=self.pgid)
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for proc in [*self.procs, self.leader]:
            if proc is not None:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass


def wait_for(check, what: str, timeout: float = START_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    """Poll `check()` until it is true, or raise naming `what`."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - the server is still starting
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready within {timeout:g} s ({last})")


def redis_cli(*args: str, timeout: float = 30) -> str:
    """Run redis-cli and return its output (raising on a non-zero exit)."""
    out = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)} failed: {out.stdout}{out.stderr}")
    return out.stdout
