"""Horizon's shared state in the cache store: masters with heartbeats, their names, and commands to them.

Keys (all in the cache store, CACHE_STORE):
- `horizon:masters`: index {master name: started_at}, changed under a short lock.
- `horizon:master:<name>`: the master's record (host, pid, status, supervisors with their
  processes), rewritten every heartbeat and expiring after `ttl`: a master killed with
  SIGKILL disappears from horizon:list once its record expires.
- `horizon:master-lock:<name>`: who holds the name; a second master with the same name is refused
  unless the holder is a dead process on this host.
- `horizon:paused:<name>`, `horizon:terminate:<name>`: commands from any host, polled every heartbeat.
Every value read back is checked: the store is shared and its contents are untrusted.
"""
from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from app.Queue.contracts import CacheStore
from app.Queue.errors import ConfigurationError
from app.Queue.Support.time import now

INDEX_KEY = "horizon:masters"
INDEX_LOCK = "horizon:masters:lock"
RECORD_PREFIX = "horizon:master:"
NAME_LOCK_PREFIX = "horizon:master-lock:"
PAUSED_PREFIX = "horizon:paused:"
TERMINATE_PREFIX = "horizon:terminate:"
STATUSES = ("running", "paused", "terminating")


def record_ttl(heartbeat: float) -> float:
    """How long a master's record outlives its last heartbeat."""
    return max(3.0, heartbeat * 5)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _valid_record(value: Any) -> dict[str, Any] | None:
    """A master record as stored, or None when it is not shaped like one."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or value.get("status") not in STATUSES:
        return None
    if not isinstance(value.get("supervisors", []), list):
        return None
    return value


class HorizonState:
    """Read and write masters, names and commands."""

    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    # -- the master's side -----------------------------------------------------------------
    def claim(self, name: str, host: str, pid: int, ttl: float) -> str:
        """Take the master name, or raise naming who holds it; returns the token that proves ownership."""
        token = uuid.uuid4().hex
        holder = {"host": host, "pid": pid, "token": token}
        if self.cache.add(NAME_LOCK_PREFIX + name, holder, ttl):
            return token
        current = self.cache.get(NAME_LOCK_PREFIX + name)
        if isinstance(current, dict) and current.get("host") == host and isinstance(current.get("pid"), int) \
                and not pid_alive(current["pid"]):
            self.cache.forget(NAME_LOCK_PREFIX + name)  # its master was killed: this host may take the name back
            if self.cache.add(NAME_LOCK_PREFIX + name, holder, ttl):
                return token
            current = self.cache.get(NAME_LOCK_PREFIX + name)
        where = f" on {current.get('host')} (pid {current.get('pid')})" if isinstance(current, dict) else ""
        raise ConfigurationError(f"a horizon master named {name!r} is already running{where}; "
                                 "stop it with `python artisan horizon:terminate` or start this one with --name")

    def heartbeat(self, record: dict[str, Any], token: str, ttl: float) -> None:
        """Publish the master's record and renew its name."""
        name = record["name"]
        self.cache.put(RECORD_PREFIX + name, {**record, "heartbeat_at": now()}, ttl)
        self.cache.put(NAME_LOCK_PREFIX + name, {"host": record["host"], "pid": record["pid"], "token": token}, ttl)

    def join(self, name: str) -> None:
        """List a master in the index and clear commands left for an earlier master of that name."""
        self.cache.forget(PAUSED_PREFIX + name)
        self.cache.forget(TERMINATE_PREFIX + name)
        with self._index_lock():
            index = self._index()
            index[name] = now()
            self.cache.put(INDEX_KEY, index)

    def leave(self, name: str, token: str) -> None:
        """Remove a stopping master: its record, its name, its index entry and its commands."""
        self.cache.forget(RECORD_PREFIX + name)
        current = self.cache.get(NAME_LOCK_PREFIX + name)
        if isinstance(current, dict) and current.get("token") == token:
            self.cache.forget(NAME_LOCK_PREFIX + name)
        self.cache.forget(PAUSED_PREFIX + name)
        self.cache.forget(TERMINATE_PREFIX + name)
        self._prune([name])

    def commands(self, name: str) -> tuple[bool, bool]:
        """(pause requested, terminate requested) for master `name`."""
        many = getattr(self.cache, "many", None)
        keys = [PAUSED_PREFIX + name, TERMINATE_PREFIX + name]
        values = many(keys) if many is not None else {k: self.cache.get(k) for k in keys}
        return bool(values.get(keys[0])), bool(values.get(keys[1]))

    # -- any process's side ------------------------------------------------------------------
    def masters(self) -> list[dict[str, Any]]:
        """Records of live masters, by name; masters whose heartbeat expired are dropped from the index."""
        index = self._index()
        keys = [RECORD_PREFIX + name for name in index]
        many = getattr(self.cache, "many", None)
        values = many(keys) if many is not None else {k: self.cache.get(k) for k in keys}
        live = []
        gone = []
        for name, key in zip(index, keys):
            record = _valid_record(values.get(key))
            if record is None:
                gone.append(name)
            else:
                live.append(record)
        if gone:
            self._prune(gone)
        return sorted(live, key=lambda r: r["name"])

    def send(self, command: str, names: list[str]) -> None:
        """Send pause, continue or terminate to the masters named."""
        for name in names:
            if command == "pause":
                self.cache.put(PAUSED_PREFIX + name, {"at": now()})
            elif command == "continue":
                self.cache.forget(PAUSED_PREFIX + name)
            elif command == "terminate":
                self.cache.put(TERMINATE_PREFIX + name, {"at": now()}, 3600)
            else:
                raise ValueError(f"unknown horizon command {command!r}")

    def status(self) -> str:
        """running (any master running), paused (every master paused) or inactive (none)."""
        masters = self.masters()
        if not masters:
            return "inactive"
        return "paused" if all(m["status"] == "paused" for m in masters) else "running"

    # -- the index ---------------------------------------------------------------------------
    def _index(self) -> dict[str, Any]:
        index = self.cache.get(INDEX_KEY)
        if not isinstance(index, dict):
            return {}
        return {name: at for name, at in index.items() if isinstance(name, str)}

    def _prune(self, names: list[str]) -> None:
        with self._index_lock():
            index = self._index()
            for name in names:
                index.pop(name, None)
            self.cache.put(INDEX_KEY, index)

    @contextmanager
    def _index_lock(self) -> Iterator[None]:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + 5.0
        held = False
        while not held and time.monotonic() < deadline:
            held = self.cache.add(INDEX_LOCK, owner, 5.0)
            if not held:
                time.sleep(0.01)
        try:
            yield
        finally:
            if held and self.cache.get(INDEX_LOCK) == owner:
                self.cache.forget(INDEX_LOCK)
