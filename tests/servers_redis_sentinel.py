"""A throwaway Sentinel set-up for tests: 1 master, 1 replica, 3 sentinels on loopback ports.

Function-scoped (`redis_sentinel_factory`): the tests that use it force a failover, which
changes who is master. All processes share one process group, killed by the finalizer
and at exit.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.servers_redis_cluster import require_binaries
from tests.servers_redis_group import ProcessGroup, free_port_pair, redis_cli, wait_for

MASTER_NAME = "queuemaster"


@dataclass
class SentinelSetup:
    """The data nodes and sentinels of one set-up; `env()` points the app at it through Sentinel."""

    group: ProcessGroup
    data_ports: list[int]
    sentinel_ports: list[int]

    def env(self) -> dict[str, str]:
        return {"REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
                "REDIS_SENTINEL_MASTER": MASTER_NAME}

    def master_port(self) -> int:
        """The master's port, as the first sentinel reports it."""
        out = redis_cli("-p", str(self.sentinel_ports[0]), "SENTINEL", "get-master-addr-by-name", MASTER_NAME)
        return int(out.split()[1])

    def failover(self, timeout: float = 30) -> int:
        """Force a failover (SENTINEL FAILOVER) and wait until the old replica is master; returns its port."""
        before = self.master_port()
        redis_cli("-p", str(self.sentinel_ports[0]), "SENTINEL", "FAILOVER", MASTER_NAME)

        def switched() -> bool:
            port = self.master_port()
            return port != before and redis_cli("-p", str(port), "ROLE").split("\n", 1)[0].strip() == "master"
        wait_for(switched, "sentinel failover", timeout)
        return self.master_port()


def start_sentinel_setup(directory: Path, *extra: str) -> SentinelSetup:
    """Start a master, a replica of it and three sentinels watching it (quorum 2)."""
    require_binaries()
    group = ProcessGroup()
    try:
        data = [free_port_pair(), free_port_pair()]
        for i, port in enumerate(data):
            d = directory / f"data-{port}"
            d.mkdir(parents=True)
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(d),
                    "--logfile", str(d / "redis.log"), *extra]
            if i == 1:
                args += ["--replicaof", "127.0.0.1", str(data[0])]
            group.spawn(args, d)
        for port in data:
            wait_for(lambda port=port: "PONG" in redis_cli("-p", str(port), "PING", timeout=2), f"redis {port}")
        wait_for(lambda: "master_link_status:up" in redis_cli("-p", str(data[1]), "INFO", "replication"), "replication")
        sentinels = []
        for _ in range(3):
            port = free_port_pair()
            d = directory / f"sentinel-{port}"
            d.mkdir(parents=True)
            conf = d / "sentinel.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d / 'sentinel.log'}\n"
                            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {data[0]} 2\n"
                            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                            f"sentinel failover-timeout {MASTER_NAME} 5000\n")
            group.spawn(["redis-server", str(conf), "--sentinel"], d)
            sentinels.append(port)
        setup = SentinelSetup(group, data, sentinels)
        for port in sentinels:
            wait_for(lambda port=port: "num-other-sentinels" in redis_cli(
                "-p", str(port), "SENTINEL", "master", MASTER_NAME, timeout=2), f"sentinel {port}")
        # the failover needs the sentinels to know each other and the replica
        wait_for(lambda: all(_knows_all(p) for p in sentinels), "sentinels to discover each other", 20)
    except BaseException:
        group.kill_all()
        raise
    return setup


def _knows_all(port: int) -> bool:
    fields = redis_cli("-p", str(port), "SENTINEL", "master", MASTER_NAME, timeout=2).split()
    info = dict(zip(fields[0::2], fields[1::2]))
    return info.get("num-other-sentinels") == "2" and info.get("num-slaves") == "1"


@pytest.fixture
def redis_sentinel_factory(tmp_path: Path) -> Iterator[Callable[..., SentinelSetup]]:
    """Start Sentinel set-ups for one test (extra arguments go to both data nodes)."""
    started: list[SentinelSetup] = []

    def create(*extra: str) -> SentinelSetup:
        setup = start_sentinel_setup(tmp_path / f"sentinel-{len(started)}", *extra)
        started.append(setup)
        return setup

    try:
        yield create
    finally:
        for setup in started:
            setup.group.kill_all()
