"""A throwaway Redis Cluster for tests: six `redis-server --cluster-enabled yes` processes
(3 masters, 3 replicas) on loopback ports, joined with `redis-cli --cluster create`.

`redis_cluster` (session) serves the contract suites; `redis_cluster_factory` starts a
private one for a test that kills nodes (chaos). All processes share one process group,
killed by the fixture's finalizer and at exit.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.servers_redis_group import ProcessGroup, free_port_pair, redis_cli, wait_for

INSTALL_HINT = "redis-server/redis-cli not installed: apt-get install redis-server redis-tools"


def require_binaries() -> None:
    if shutil.which("redis-server") and shutil.which("redis-cli"):
        return
    if os.environ.get("CI"):
        pytest.fail(INSTALL_HINT)
    pytest.skip(INSTALL_HINT)


@dataclass
class RedisClusterServers:
    """Six nodes of one cluster; `env()` points the app at it with REDIS_CLUSTER=true."""

    group: ProcessGroup
    dir: Path
    ports: list[int]
    procs: dict[int, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": f"redis://127.0.0.1:{self.ports[0]}/0", "REDIS_CLUSTER": "true"}

    def client(self) -> Any:
        from redis.cluster import RedisCluster

        return RedisCluster(host="127.0.0.1", port=self.ports[0], decode_responses=True)

    def flush(self) -> None:
        """Empty every master."""
        for port in self.masters():
            redis_cli("-p", str(port), "FLUSHALL")

    def masters(self) -> list[int]:
        """Ports of the nodes that are masters now (alive ones)."""
        out = []
        for port in self.ports:
            if self.procs[port].poll() is not None:
                continue
            try:
                role = redis_cli("-p", str(port), "ROLE", timeout=5).split("\n", 1)[0].strip()
            except Exception:  # noqa: BLE001 - a node being killed
                continue
            if role == "master":
                out.append(port)
        return out

    def master_of(self, key: str) -> int:
        """The port of the master that serves `key`'s slot."""
        slot = int(redis_cli("-p", str(self.masters()[0]), "CLUSTER", "KEYSLOT", key).strip())
        for port in self.masters():
            for line in redis_cli("-p", str(port), "CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "myself" in parts[2] and "master" in parts[2]:
                    for rng in parts[8:]:
                        lo, _, hi = rng.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return port
        raise RuntimeError(f"no master serves slot {slot}")

    def kill(self, port: int) -> None:
        """SIGKILL one node (its replica takes over after cluster-node-timeout)."""
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait(5)

    def wait_ok(self, timeout: float = 30) -> None:
        """Wait until every live node says cluster_state:ok."""
        def ok() -> bool:
            live = [p for p in self.ports if self.procs[p].poll() is None]
            if not all("cluster_state:ok" in redis_cli("-p", str(p), "CLUSTER", "INFO", timeout=5) for p in live):
                return False
            # a replica that has not finished its first sync cannot be promoted: wait for every link
            infos = [redis_cli("-p", str(p), "INFO", "replication", timeout=5) for p in live]
            return all("master_link_status:up" in info for info in infos if "role:slave" in info)
        wait_for(ok, "redis cluster", timeout)


def start_cluster(directory: Path, *extra: str) -> RedisClusterServers:
    """Start six nodes and join them: 3 masters, 1 replica each."""
    require_binaries()
    group = ProcessGroup()
    ports: list[int] = []
    cluster = RedisClusterServers(group, directory, ports)
    try:
        for _ in range(6):
            port = free_port_pair()
            while port in ports:
                port = free_port_pair()
            ports.append(port)
            node_dir = directory / str(port)
            node_dir.mkdir(parents=True)
            cluster.procs[port] = group.spawn(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1500", "--save", "",
                 "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"), *extra], node_dir)
        for port in ports:
            wait_for(lambda port=port: "PONG" in redis_cli("-p", str(port), "PING", timeout=2), f"node {port}")
        redis_cli("--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "1",
                  "--cluster-yes", timeout=60)
        cluster.wait_ok()
    except BaseException:
        group.kill_all()
        raise
    return cluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A 3-master, 3-replica cluster for the whole session (no persistence)."""
    require_binaries()
    with tempfile.TemporaryDirectory(prefix="redis-cluster-") as tmp:
        cluster = start_cluster(Path(tmp), "--appendonly", "no")
        try:
            yield cluster
        finally:
            cluster.group.kill_all()


@pytest.fixture
def redis_cluster_factory(tmp_path: Path) -> Iterator[Callable[..., RedisClusterServers]]:
    """Start private clusters for one test (e.g. with `--appendonly yes --appendfsync always`)."""
    started: list[RedisClusterServers] = []

    def create(*extra: str) -> RedisClusterServers:
        cluster = start_cluster(tmp_path / f"cluster-{len(started)}", *extra)
        started.append(cluster)
        return cluster

    try:
        yield create
    finally:
        for cluster in started:
            cluster.group.kill_all()


def use_redis_cluster(cluster: RedisClusterServers, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the app at `cluster` for queues and cache, flush it and reset the manager."""
    from app.Queue.QueueManager import manager
    from config import env as env_mod

    env = {**cluster.env(), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"}
    for key in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    env_mod.reload()
    cluster.flush()
    manager().reset()
    return env
