"""Build every Redis client (queue, cache store, locks, failed jobs) from one connection config.

The settings (DESIGN §9 "Connections"): `REDIS_URL` (`redis://`, `rediss://`, `unix://`, with
ACL user and password) wins over `REDIS_HOST`/`REDIS_PORT`/`REDIS_DB`/`REDIS_PASSWORD`;
`REDIS_TLS_CA`/`REDIS_TLS_CERT`/`REDIS_TLS_KEY`/`REDIS_TLS_VERIFY` shape a TLS connection;
`REDIS_CLUSTER=true` builds a `RedisCluster`; `REDIS_SENTINELS=host:port,...` with
`REDIS_SENTINEL_MASTER=name` asks Sentinel where the master is. A bad value is a
ConfigurationError naming the setting; a server in the other mode (cluster or not) is
refused on the first connection, so a worker never half-works against the wrong topology.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from app.Queue.errors import ConfigurationError, ConnectionUnavailableError

SCHEMES = ("redis", "rediss", "unix")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")

# One RedisCluster per process and target, shared by the queue, cache, locks and failed-job
# stores: each client holds the whole slot map and command table (~1 MB) and connections to
# every node, and Python does not give that memory back when a client is dropped.
_SHARED_CLUSTERS: dict[tuple[int, RedisTarget], Any] = {}


class ServerModeError(redis.exceptions.RedisError):
    """The server is a cluster node and the client is not, or the reverse (raised on connect)."""


@dataclass(frozen=True)
class RedisTarget:
    """Where and how to connect, parsed and checked once from a connection config."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = None
    unix_path: str | None = None
    tls: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_verify: bool = True
    cluster: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_master: str | None = None
    connect_timeout: float = 5.0

    def where(self) -> str:
        """Say which server this points at (never the password)."""
        if self.sentinels:
            return f"Sentinel master {self.sentinel_master!r} via " + ",".join(f"{h}:{p}" for h, p in self.sentinels)
        if self.unix_path:
            return f"unix:{self.unix_path}"
        kind = "cluster node " if self.cluster else ""
        return f"{kind}{self.host}:{self.port}"

    def connection_kwargs(self) -> dict[str, Any]:
        """redis-py connection keywords shared by every client kind."""
        kwargs: dict[str, Any] = {
            "username": self.username, "password": self.password, "decode_responses": True,
            # A record holding bytes that are not UTF-8 decodes to lone surrogates and encodes back to
            # the same bytes, so the worker can refuse it and still ZREM it by its exact value.
            "encoding_errors": "surrogateescape",
            "socket_connect_timeout": self.connect_timeout,
        }
        if self.tls:
            kwargs.update(ssl=True, ssl_ca_certs=self.tls_ca, ssl_certfile=self.tls_cert, ssl_keyfile=self.tls_key,
                          ssl_cert_reqs="required" if self.tls_verify else "none",
                          ssl_check_hostname=self.tls_verify)
        return kwargs


def target(config: Mapping[str, Any]) -> RedisTarget:
    """Parse a `connections.redis` config (with its url, tls_*, cluster, sentinel keys) into a RedisTarget."""
    fields: dict[str, Any] = {
        "host": str(config.get("host") or "127.0.0.1"),
        "port": _int(config.get("port") or 6379, "REDIS_PORT"),
        "db": _int(config.get("db") or 0, "REDIS_DB"),
        "username": config.get("username") or None,
        "password": config.get("password") or None,
        "connect_timeout": float(config.get("connect_timeout", 5)),
    }
    url = str(config.get("url") or "").strip()
    if url:
        fields.update(_parse_url(url))
    fields["tls_ca"] = config.get("tls_ca") or None
    fields["tls_cert"] = config.get("tls_cert") or None
    fields["tls_key"] = config.get("tls_key") or None
    fields["tls_verify"] = _bool(config.get("tls_verify"), "REDIS_TLS_VERIFY", True)
    if fields["tls_cert"] and not fields["tls_key"] or fields["tls_key"] and not fields["tls_cert"]:
        raise ConfigurationError("REDIS_TLS_CERT and REDIS_TLS_KEY go together (a client certificate and its key)")
    fields["cluster"] = _bool(config.get("cluster"), "REDIS_CLUSTER", False)
    sentinels = str(config.get("sentinels") or "").strip()
    if sentinels:
        fields["sentinels"] = tuple(_host_port(item, "REDIS_SENTINELS") for item in sentinels.split(",") if item.strip())
        fields["sentinel_master"] = str(config.get("sentinel_master") or "").strip() or None
        if not fields["sentinel_master"]:
            raise ConfigurationError("REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not: name the master to ask for")
        if fields["cluster"]:
            raise ConfigurationError("REDIS_CLUSTER=true and REDIS_SENTINELS exclude each other: pick one")
    if fields["cluster"] and fields.get("unix_path"):
        raise ConfigurationError("REDIS_CLUSTER=true needs a TCP REDIS_URL (redis:// or rediss://), not unix://")
    if fields["cluster"] and fields["db"] != 0:
        raise ConfigurationError(f"Redis Cluster has only database 0; REDIS_DB (or the URL's /db) is {fields['db']}")
    return RedisTarget(**fields)


def _parse_url(url: str) -> dict[str, Any]:
    """Read REDIS_URL: scheme, user, password, host, port, db (path or ?db=)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"REDIS_URL is not a valid URL ({exc}); e.g. rediss://user:password@host:6380/0") from None
    if parts.scheme not in SCHEMES:
        raise ConfigurationError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {parts.scheme or 'no'} scheme")
    out: dict[str, Any] = {"username": unquote(parts.username) if parts.username else None,
                           "password": unquote(parts.password) if parts.password else None,
                           "tls": parts.scheme == "rediss"}
    query = parse_qs(parts.query)
    db_text = (query.get("db") or [""])[0]
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError("REDIS_URL unix:// needs a socket path, e.g. unix:///run/redis/redis.sock?db=0")
        out["unix_path"] = unquote(parts.path)
    else:
        if not parts.hostname:
            raise ConfigurationError(f"REDIS_URL has no host: {_redact(url)}")
        out["host"] = parts.hostname
        out["port"] = port or 6379
        db_text = db_text or parts.path.lstrip("/")
    if db_text:
        out["db"] = _int(db_text, "REDIS_URL's database number")
    return out


def require_enabled(config: Mapping[str, Any]) -> None:
    """Refuse to connect when Redis is switched off (ENABLE_REDIS=false, seed 000)."""
    if config.get("enabled") is False:
        raise ConfigurationError(
            "Redis is switched off (ENABLE_REDIS=false) but is used here; set ENABLE_REDIS=true, "
            "or QUEUE_CONNECTION/CACHE_STORE/QUEUE_FAILED_DRIVER=database")


def make_client(config: Mapping[str, Any]) -> Any:
    """Build the client `config` asks for: Redis (TCP, TLS or unix socket), RedisCluster, or a Sentinel master."""
    require_enabled(config)
    t = target(config)
    kwargs = t.connection_kwargs()
    # redis-py 8 reads with a 5 s socket timeout by default: a BLPOP of block_for (5 s by default,
    # `queue:work --sleep 5` in seed 000) would race it and fall into redis-py's retries. Reads may
    # take the longest blocking wait plus a margin; with no cap on waits (block_for 0), no timeout.
    block_for = float(config.get("block_for") or 0)
    kwargs["socket_timeout"] = block_for + 10 if block_for > 0 else None
    if t.sentinels:
        from redis.sentinel import Sentinel

        sentinel_kwargs = {"socket_connect_timeout": t.connect_timeout}
        sentinel = Sentinel(list(t.sentinels), sentinel_kwargs=sentinel_kwargs, db=t.db,
                            socket_keepalive=True, health_check_interval=30, **kwargs)
        return sentinel.master_for(t.sentinel_master, redis_connect_func=_refuse_cluster)
    if t.cluster:
        shared = _SHARED_CLUSTERS.get((os.getpid(), t))
        if shared is not None:
            return shared
        try:
            client = _SHARED_CLUSTERS[(os.getpid(), t)] = RedisCluster(host=t.host, port=t.port, **kwargs)
            return client
        except RedisClusterException as exc:
            raise _cluster_error(t, exc) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if t.tls and ("SSL" in str(exc) or "certificate" in str(exc).lower()):
                raise ConfigurationError(f"TLS handshake with Redis Cluster at {t.where()} failed ({exc}); "
                                         "check REDIS_TLS_CA / REDIS_TLS_CERT / REDIS_TLS_KEY") from None
            raise ConnectionUnavailableError(f"cannot connect to Redis Cluster at {t.where()}: {exc}; "
                                             "check REDIS_URL/REDIS_HOST/REDIS_PORT") from None
    common = {"db": t.db, "socket_keepalive": True, "health_check_interval": 30, "redis_connect_func": _refuse_cluster}
    if t.unix_path:
        for key in [k for k in kwargs if k.startswith("ssl")]:
            kwargs.pop(key)
        return redis.Redis(unix_socket_path=t.unix_path, **common, **kwargs)
    return redis.Redis(host=t.host, port=t.port, **common, **kwargs)


def close_client(client: Any) -> None:
    """Close a client a store is done with; the process's shared cluster client stays open."""
    if not is_cluster(client):
        client.close()


def is_cluster(client: Any) -> bool:
    """Whether `client` is a RedisCluster (no single connection pool: the fast lanes step aside)."""
    return isinstance(client, RedisCluster)


def _refuse_cluster(conn: Any) -> None:
    """On each new connection of a non-cluster client: run the usual handshake, then refuse a cluster node."""
    handshake = getattr(conn, "on_connect_check_health", None)
    if handshake is not None:  # no health-check PING inside the handshake: it would reconnect, and recurse
        handshake(check_health=False)
    else:
        conn.on_connect()
    conn.send_command("INFO", "cluster", check_health=False)
    info = conn.read_response()
    if isinstance(info, bytes):
        info = info.decode()
    if "cluster_enabled:1" in str(info):
        raise ServerModeError(f"Redis at {_conn_where(conn)} is a Redis Cluster node; set REDIS_CLUSTER=true")


def _cluster_error(t: RedisTarget, exc: RedisClusterException) -> ConfigurationError:
    text = str(exc)
    if "cluster mode is not enabled" in text.lower() or "cluster support disabled" in text.lower():
        return ConfigurationError(f"REDIS_CLUSTER=true but Redis at {t.host}:{t.port} is not a cluster node; "
                                  "unset REDIS_CLUSTER (or point REDIS_URL at a cluster node)")
    return ConfigurationError(f"Redis Cluster at {t.host}:{t.port} cannot be used: {text.splitlines()[0] if text else type(exc).__name__}")


def _conn_where(conn: Any) -> str:
    path = getattr(conn, "path", None)
    return f"unix:{path}" if path else f"{getattr(conn, 'host', '?')}:{getattr(conn, 'port', '?')}"


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from None


def _bool(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return default if text == "" else False
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


def _host_port(item: str, name: str) -> tuple[str, int]:
    host, sep, port = item.strip().rpartition(":")
    if not sep or not host:
        raise ConfigurationError(f"{name} must be host:port,... ; got {item.strip()!r}")
    return host.strip("[]"), _int(port, f"{name} port")


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
