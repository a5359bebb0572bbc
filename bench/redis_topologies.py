"""The Redis Cluster and TLS rows of `make bench`, beside the plain Redis row.

Servers come from the test fixtures' starters (tests/servers_redis_cluster.py,
tests/servers_redis_tls.py): six cluster nodes (3 masters, 3 replicas), or one TLS-only
server with a throwaway CA, all on loopback ports and killed as one process group.
"""
from __future__ import annotations

from pathlib import Path

from bench.harness import Result, run_driver
from bench.redis_bench import _migrate

# Every REDIS_* setting a row may set: each row names all of them, so none leaks into the next.
CLEAR = {"REDIS_URL": "", "REDIS_CLUSTER": "", "REDIS_TLS_CA": "", "REDIS_SENTINELS": "", "REDIS_SENTINEL_MASTER": ""}


def bench_redis_cluster(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...], base: dict[str, str]) -> Result:
    """Measure the Redis driver on a 3-master cluster (the fast lanes step aside: plain client path)."""
    from tests.servers_redis_cluster import start_cluster

    cluster = start_cluster(tmp / "cluster", "--appendonly", "no")
    env = {**base, **CLEAR, **cluster.env(), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"}
    try:
        result = run_driver("redis-cluster", "redis", env, sizes, _migrate, worker_args=["--sleep=3"])
    finally:
        cluster.group.kill_all()
    result.notes.append("3 masters + 3 replicas; one client per process, every command on the plain path")
    return result


def bench_redis_tls(tmp: Path, sizes: dict[str, int], rss_marks: tuple[int, ...], base: dict[str, str]) -> Result:
    """Measure the Redis driver over rediss:// to a TLS-only server (the fast lanes run over TLS)."""
    from tests.servers_redis_tls import start_tls_redis

    (tmp / "tls").mkdir()
    server = start_tls_redis(tmp / "tls")
    env = {**base, **CLEAR, **server.env(), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"}
    try:
        return run_driver("redis-tls", "redis", env, sizes, _migrate, worker_args=["--sleep=3"])
    finally:
        server.group.kill_all()
