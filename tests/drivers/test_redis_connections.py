"""REDIS_URL (redis://, rediss://, unix://, ACL user), TLS and Cluster settings, on real servers.

Each test points the app at a server through the settings a user would set, then pushes,
reserves and acks a job (the quiet-lane fast path included) and uses the cache store, locks
and failed-job store; bad settings must end a command with one clear line and exit 1.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis.cluster import RedisCluster

from app.Queue.Drivers.RedisClients import target
from app.Queue.Drivers.RedisQueue import QueueKeys
from app.Queue.errors import ConfigurationError
from app.Queue.QueueManager import manager
from config import env as env_mod
from tests.servers_redis import RedisServer
from tests.servers_redis_cluster import RedisClusterServers
from tests.servers_redis_tls import TlsRedis, redis_tls  # noqa: F401 - session fixture
from tests.support import artisan

WORKER = "conn-test"


def configure(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> Any:
    """Set REDIS_* (clearing the host/port ones) and return a fresh manager on the redis connection."""
    for key in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_URL", "REDIS_CLUSTER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis", **settings}.items():
        monkeypatch.setenv(key, value)
    env_mod.reload()
    qm = manager()
    qm.reset()
    return qm


def round_trip(qm: Any) -> None:
    """Push, reserve in a batch, start (BEGIN sent without a reply) and ack; use cache, locks, failed store."""
    driver = qm.connection("redis")
    driver.clear("conn")
    for i in range(3):
        driver.push(f'{{"i":{i}}}', "conn")
    jobs = driver.pop_many(["conn"], WORKER, 3)
    assert [j.payload for j in jobs] == ['{"i":0}', '{"i":1}', '{"i":2}']
    jobs[0].begin()
    jobs[1].begin(finished=jobs[0])
    jobs[1].delete_nowait()
    assert jobs[2].delete() is True
    driver.collect_reserved_ahead()
    assert driver.sizes("conn").total == 0
    qm.cache.put("conn-key", {"v": 1}, 60)
    assert qm.cache.get("conn-key") == {"v": 1}
    assert qm.locks.acquire("conn-lock", "me", 10) and not qm.locks.acquire("conn-lock", "you", 10)
    assert qm.locks.release("conn-lock", "me")


def one_line(out: Any) -> str:
    text = (out.stdout + out.stderr).strip()
    assert out.returncode == 1, text
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_redis_url_wins_over_host_and_port_and_picks_the_database(redis_server: RedisServer, monkeypatch):
    qm = configure(monkeypatch, {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1",
                                 "REDIS_URL": f"redis://{redis_server.host}:{redis_server.port}/3"})
    redis_server.client(3).flushdb()
    round_trip(qm)
    qm.connection("redis").push('"kept"', "conn")
    assert redis_server.client(3).exists(QueueKeys.of("queues:", "conn").pending) == 1
    assert redis_server.client(0).exists(QueueKeys.of("queues:", "conn").pending) == 0


def test_acl_user_and_password_come_from_the_url(redis_server: RedisServer, monkeypatch):
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "queue-user", "on", ">s3cr%t", "~*", "&*", "+@all")
    try:
        qm = configure(monkeypatch, {"REDIS_URL": f"redis://queue-user:s3cr%25t@127.0.0.1:{redis_server.port}/0"})
        round_trip(qm)
        ids = [c["user"] for c in admin.client_list()]
        assert "queue-user" in ids
        env = {"QUEUE_CONNECTION": "redis", "REDIS_URL": f"redis://queue-user:wrong@127.0.0.1:{redis_server.port}/0"}
        text = one_line(artisan("queue:work", "redis", "--once", env=env))
        assert "refused the credentials" in text and "wrong" not in text
    finally:
        admin.execute_command("ACL", "DELUSER", "queue-user")


def test_unix_socket_url(redis_factory, tmp_path: Path, monkeypatch):
    sock = tmp_path / "redis.sock"
    redis_factory("--unixsocket", str(sock), "--unixsocketperm", "700")
    qm = configure(monkeypatch, {"REDIS_URL": f"unix://{sock}?db=2"})
    round_trip(qm)
    assert target(qm.connection_config("redis")).unix_path == str(sock)


def test_queue_runs_over_tls_with_the_test_ca(redis_tls: TlsRedis, monkeypatch):  # noqa: F811
    qm = configure(monkeypatch, redis_tls.env())
    round_trip(qm)
    assert qm.connection("redis").client.connection_pool.connection_kwargs["ssl_ca_certs"] == str(redis_tls.ca)


def test_tls_client_certificate_is_presented(redis_tls: TlsRedis, monkeypatch):  # noqa: F811
    qm = configure(monkeypatch, {**redis_tls.env(), "REDIS_TLS_CERT": str(redis_tls.client_cert),
                                 "REDIS_TLS_KEY": str(redis_tls.client_key)})
    round_trip(qm)


def test_worker_processes_jobs_over_tls(redis_tls: TlsRedis, monkeypatch, witness):  # noqa: F811
    from tests.fixtures.feature_jobs import PlainJob

    env = {**redis_tls.env(), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"}
    qm = configure(monkeypatch, redis_tls.env())
    qm.connection("redis").clear("default")
    for _ in range(5):
        PlainJob(witness, "default").on_connection("redis").dispatch()
    out = artisan("queue:work", "redis", "--stop-when-empty", "--prefetch=3", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert witness.read_text().splitlines() == ["plain default"] * 5
    assert qm.connection("redis").sizes("default").total == 0


def test_wrong_ca_fails_clearly(redis_tls: TlsRedis):  # noqa: F811
    env = {**redis_tls.env(), "REDIS_TLS_CA": str(redis_tls.wrong_ca), "QUEUE_CONNECTION": "redis"}
    text = one_line(artisan("queue:work", "redis", "--once", env=env))
    assert "TLS handshake" in text and "REDIS_TLS_CA" in text


def test_plain_url_against_a_tls_port_fails_clearly(redis_tls: TlsRedis):  # noqa: F811
    env = {"REDIS_URL": f"redis://127.0.0.1:{redis_tls.port}/0", "QUEUE_CONNECTION": "redis"}
    text = one_line(artisan("queue:work", "redis", "--once", env=env, timeout=60))
    assert f"127.0.0.1:{redis_tls.port}" in text


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:6379", "must start with redis://"),
    ("redis://127.0.0.1:notaport/0", "not a valid URL"),
    ("redis://127.0.0.1:6379/zero", "database number"),
    ("redis:///0", "no host"),
    ("unix://", "socket path"),
])
def test_malformed_url_is_one_line_naming_redis_url(url: str, words: str):
    text = one_line(artisan("queue:work", "redis", "--once", env={"QUEUE_CONNECTION": "redis", "REDIS_URL": url}))
    assert "REDIS_URL" in text and words in text


def test_bad_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="REDIS_CLUSTER must be true or false"):
        target({"cluster": "maybe"})
    with pytest.raises(ConfigurationError, match="REDIS_SENTINEL_MASTER"):
        target({"sentinels": "127.0.0.1:26379"})
    with pytest.raises(ConfigurationError, match="REDIS_SENTINELS must be host:port"):
        target({"sentinels": "nohost", "sentinel_master": "m"})
    with pytest.raises(ConfigurationError, match="only database 0"):
        target({"cluster": "true", "db": 2})
    with pytest.raises(ConfigurationError, match="REDIS_TLS_CERT and REDIS_TLS_KEY"):
        target({"url": "rediss://h:1", "tls_cert": "/x"})


def test_cluster_setting_against_a_plain_server_fails_clearly(redis_server: RedisServer):
    env = {"QUEUE_CONNECTION": "redis", "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}", "REDIS_CLUSTER": "true"}
    text = one_line(artisan("queue:work", "redis", "--once", env=env))
    assert "REDIS_CLUSTER=true" in text and "not a cluster node" in text


def test_plain_setting_against_a_cluster_fails_clearly(redis_cluster: RedisClusterServers):
    env = {"QUEUE_CONNECTION": "redis", "REDIS_URL": f"redis://127.0.0.1:{redis_cluster.ports[0]}"}
    text = one_line(artisan("queue:work", "redis", "--once", env=env))
    assert "Redis Cluster node" in text and "REDIS_CLUSTER=true" in text


def test_every_key_of_a_queue_and_of_failed_jobs_shares_one_cluster_slot(redis_cluster: RedisClusterServers):
    node = redis_cluster.client()
    for queue in ("default", "emails", "a:b{c}"):
        keys = QueueKeys.of("queues:", queue)
        slots = {node.cluster_keyslot(k) for k in (keys.pending, keys.delayed, keys.reserved, keys.notify, keys.seq, keys.lost, keys.done)}
        assert len(slots) == 1, (queue, slots)
    base = "queues:{failed_jobs}"
    assert len({node.cluster_keyslot(k) for k in (base, f"{base}:order", f"{base}:seq")}) == 1


def test_cluster_client_is_shared_and_scans_every_master(redis_cluster: RedisClusterServers, monkeypatch):
    qm = configure(monkeypatch, redis_cluster.env())
    redis_cluster.flush()
    driver = qm.connection("redis")
    assert isinstance(driver.client, RedisCluster) and driver.client is qm.cache.client
    names = [f"q{i}" for i in range(12)]
    for name in names:
        driver.push('"x"', name)
    owners = {redis_cluster.master_of(QueueKeys.of("queues:", n).pending) for n in names}
    assert len(owners) > 1  # the queues live on several masters, and queues() finds them all
    assert driver.queues() == sorted(names)
    qm.cache.put_many([(f"k{i}", i, 60) for i in range(50)])
    assert qm.cache.many([f"k{i}" for i in range(50)]) == {f"k{i}": i for i in range(50)}
    assert qm.cache.flush_prefix("k") == 50
    round_trip(qm)


def test_queue_stats_on_a_cluster_lists_queues_of_every_master(redis_cluster: RedisClusterServers, monkeypatch):
    qm = configure(monkeypatch, redis_cluster.env())
    redis_cluster.flush()
    names = [f"stats{i}" for i in range(8)]
    for name in names:
        qm.connection("redis").push('"x"', name)
    assert len({redis_cluster.master_of(QueueKeys.of("queues:", n).pending) for n in names}) > 1
    out = artisan("queue:stats", "redis", env={**redis_cluster.env(), "QUEUE_CONNECTION": "redis", "CACHE_STORE": "redis"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert all(name in out.stdout for name in names), out.stdout


TLS_CHILD = """
import os, signal, time
from app.Queue.Drivers.RedisConnection import QuietLane, make_client
lane = QuietLane(make_client({{"url": "rediss://127.0.0.1:{port}/0", "tls_ca": {ca!r}}}))
lane.execute("PING")
if {with_request}:
    lane.request("DEBUG", "SLEEP", "0.2", on_reply=lambda r: None)  # a reply due while we send
for i in range(50):
    lane.send("SET", "{prefix}:" + str(i), "v")
time.sleep(0.05)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("with_request", [False, True], ids=["corked", "reply-due"])
def test_quiet_sends_over_tls_reach_redis_when_the_process_is_killed(redis_tls: TlsRedis, with_request: bool):  # noqa: F811
    import subprocess
    import sys
    import time

    prefix = f"tls-quiet-{with_request}"
    code = TLS_CHILD.format(port=redis_tls.port, ca=str(redis_tls.ca), with_request=with_request, prefix=prefix)
    child = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert child.returncode == -9
    client = redis_tls.client()
    keys = [f"{prefix}:{i}" for i in range(50)]
    for _ in range(100):
        if client.exists(*keys) == 50:
            break
        time.sleep(0.01)
    assert client.exists(*keys) == 50


def _node_id(port: int) -> str:
    from tests.servers_redis_group import redis_cli

    return redis_cli("-p", str(port), "CLUSTER", "MYID").strip()


def test_a_queue_whose_slot_moves_to_another_master_keeps_working(redis_cluster: RedisClusterServers, monkeypatch):
    """MOVED: the slot of `queues:{moving}` is migrated (keys included) while the driver holds a stale slot map."""
    from tests.servers_redis_group import redis_cli

    qm = configure(monkeypatch, redis_cluster.env())
    redis_cluster.flush()
    driver = qm.connection("redis")
    keys = QueueKeys.of("queues:", "moving")
    for i in range(5):
        driver.push(f'"{i}"', "moving")
    held = driver.pop("moving", WORKER)
    source = redis_cluster.master_of(keys.pending)
    dest = next(p for p in redis_cluster.masters() if p != source)
    slot = redis_cli("-p", str(source), "CLUSTER", "KEYSLOT", keys.pending).strip()
    redis_cli("-p", str(dest), "CLUSTER", "SETSLOT", slot, "IMPORTING", _node_id(source))
    redis_cli("-p", str(source), "CLUSTER", "SETSLOT", slot, "MIGRATING", _node_id(dest))
    names = redis_cli("-p", str(source), "CLUSTER", "GETKEYSINSLOT", slot, "100").split()
    assert keys.pending in names and keys.reserved in names
    redis_cli("-p", str(source), "MIGRATE", "127.0.0.1", str(dest), "", "0", "5000", "KEYS", *names)
    for port in redis_cluster.masters():
        redis_cli("-p", str(port), "CLUSTER", "SETSLOT", slot, "NODE", _node_id(dest))
    assert redis_cluster.master_of(keys.pending) == dest
    assert held is not None and held.delete() is True  # the ack follows MOVED to the new master
    got = [driver.pop("moving", WORKER) for _ in range(4)]
    assert [j.payload for j in got if j is not None] == ['"1"', '"2"', '"3"', '"4"']
    assert all(j.delete() for j in got if j is not None)
    assert driver.sizes("moving").total == 0


def _async_push_lands(qm: Any, queue: str) -> None:
    """`await aio.queue.push` stores a job the sync driver then counts on the same server."""
    import asyncio

    from app.Queue import aio
    from tests.fixtures.feature_jobs import PlainJob

    async def push() -> str | None:
        try:
            return await aio.queue.push(PlainJob("/nonexistent", "not-run"), queue=queue, connection="redis")
        finally:
            await aio.queue.aclose()

    assert asyncio.run(push())
    assert qm.connection("redis").sizes(queue).pending == 1


def test_async_facade_honours_the_url_database_unix_socket_and_tls(redis_server: RedisServer, redis_factory,
                                                                   redis_tls: TlsRedis, tmp_path: Path,  # noqa: F811
                                                                   monkeypatch):
    qm = configure(monkeypatch, {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1",
                                 "REDIS_URL": f"redis://{redis_server.host}:{redis_server.port}/4"})
    redis_server.client(4).flushdb()
    _async_push_lands(qm, "aio-url")
    assert redis_server.client(4).exists(QueueKeys.of("queues:", "aio-url").pending) == 1
    sock = tmp_path / "aio.sock"
    redis_factory("--unixsocket", str(sock), "--unixsocketperm", "700")
    _async_push_lands(configure(monkeypatch, {"REDIS_URL": f"unix://{sock}?db=1"}), "aio-unix")
    _async_push_lands(configure(monkeypatch, redis_tls.env()), "aio-tls")


def test_async_facade_on_a_cluster_goes_through_the_routing_client(redis_cluster: RedisClusterServers, monkeypatch):
    qm = configure(monkeypatch, redis_cluster.env())
    from app.Queue.Drivers.AsyncRedisQueue import supports

    assert not supports(qm.connection_config("redis"))
    qm.connection("redis").clear("aio-cluster")
    _async_push_lands(qm, "aio-cluster")
