"""Check a queue connection's settings in config/queue.py: an unknown or unused key is an error, never ignored."""
from __future__ import annotations

from typing import Any, Mapping

from app.Queue.errors import ConfigurationError

_COMMON = frozenset({"driver", "queue", "retry_after", "max_attempts", "after_commit"})
# What each built-in driver reads; a connection of another (add_connector) driver is not checked.
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "sync": frozenset({"driver", "after_commit"}),
    "database": _COMMON | {"table", "url"},
    "redis": _COMMON | {"enabled", "host", "port", "db", "password", "username", "url", "prefix", "block_for",
                        "connect_timeout", "cache_prefix", "tls_ca", "tls_cert", "tls_key", "tls_verify", "cluster",
                        "sentinels", "sentinel_master"},
}


def declare_keys(driver: str, keys: set[str] | frozenset[str]) -> None:
    """Let a driver (a built-in added later, or one registered with add_connector) declare the settings it reads."""
    KNOWN_KEYS[driver] = KNOWN_KEYS.get(driver, frozenset({"driver"})) | frozenset(keys)


def check_connection(name: str, config: Mapping[str, Any]) -> None:
    """Raise ConfigurationError naming the first setting of connection `name` that nothing would read."""
    driver = str(config.get("driver", name))
    known = KNOWN_KEYS.get(driver)
    if known is None:
        return
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigurationError(
            f"queue connection {name!r} (driver {driver}) has unknown setting {unknown[0]!r} in config/queue.py; "
            f"known: {', '.join(sorted(known))}")
    value = config.get("max_attempts")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigurationError(f"queue connection {name!r}: max_attempts must be a whole number >= 0 (0: unlimited), got {value!r}")
    table = config.get("table")
    if table is not None:
        from config.database import table_name

        expected = table_name("QUEUE_JOBS_TABLE")
        if table != expected:
            raise ConfigurationError(
                f"queue connection {name!r}: table {table!r} differs from QUEUE_JOBS_TABLE ({expected!r}), which the "
                "driver uses; set QUEUE_JOBS_TABLE instead")
