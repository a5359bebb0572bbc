"""Permanently failed jobs in Redis, for setups without a database (QUEUE_FAILED_DRIVER=redis).

Keys (one hash tag): `<prefix>{failed_jobs}` hash uuid -> JSON record, `:order` zset of uuids
scored by their integer id (insertion order), `:seq` the id counter.
"""
from __future__ import annotations

import json
from typing import Any, Iterator, Mapping

from app.Queue import LuaScripts
from app.Queue.contracts import FailedJobRecord
from app.Queue.Redis.clients import close_client, make_client
from app.Queue.Redis.errors import translate_errors
from app.Queue.Support.failed_filter import class_matches
from app.Queue.Support.time import now, now_int


class RedisFailedJobProvider:
    """FailedJobProvider over Redis with the same methods as DatabaseFailedJobProvider."""

    def __init__(self, client: Any, prefix: str = "queues:", config: Mapping[str, Any] | None = None) -> None:
        self.client = client
        self.config = dict(config or {})
        base = f"{prefix}{{failed_jobs}}"
        self.records_key, self.order_key, self.seq_key = base, f"{base}:order", f"{base}:seq"
        self._log = client.register_script(LuaScripts.FAILED_LOG)
        self._forget = client.register_script(LuaScripts.FAILED_FORGET)
        self._forget_record = client.register_script(LuaScripts.FAILED_FORGET_RECORD)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RedisFailedJobProvider:
        """Build the provider for a `connections.redis` config."""
        return cls(make_client(config), str(config.get("prefix") or "queues:"), config)

    def log(self, connection: str, queue: str, payload: str, exception: str, uuid: str) -> None:
        record = json.dumps({"connection": connection, "queue": queue, "payload": payload,
                             "exception": exception, "failed_at": now_int()})
        with translate_errors(self.config):
            self._log(keys=[self.records_key, self.order_key, self.seq_key], args=[uuid, record])

    def _records(self, newest_first: bool, queue: str | None) -> list[FailedJobRecord]:
        with translate_errors(self.config):
            ordered = self.client.zrange(self.order_key, 0, -1, desc=newest_first, withscores=True)
            raws = self.client.hmget(self.records_key, [u for u, _ in ordered]) if ordered else []
        records = [self._record(uuid, score, raw) for (uuid, score), raw in zip(ordered, raws) if raw is not None]
        return [r for r in records if queue is None or r.queue == queue]

    def all(self, queue: str | None = None) -> list[FailedJobRecord]:
        """List failed jobs, newest first."""
        return self._records(True, queue)

    def recent(self, limit: int | None = None, queue: str | None = None, job_class: str | None = None) -> list[FailedJobRecord]:
        """List failed jobs, newest first: at most `limit`, of one queue and/or one job class (read in pages)."""
        found: list[FailedJobRecord] = []
        start, page = 0, 200
        while not limit or len(found) < limit:
            with translate_errors(self.config):
                ordered = self.client.zrange(self.order_key, start, start + page - 1, desc=True, withscores=True)
                raws = self.client.hmget(self.records_key, [u for u, _ in ordered]) if ordered else []
            for (uuid, score), raw in zip(ordered, raws):
                if raw is None:
                    continue
                record = self._record(uuid, score, raw)
                if (queue and record.queue != queue) or (job_class and not class_matches(record.payload, job_class)):
                    continue
                found.append(record)
                if limit and len(found) >= limit:
                    break
            if len(ordered) < page:
                break
            start += page
        return found

    def ids(self, queue: str | None = None) -> list[str]:
        """List uuids, oldest first (for retry all)."""
        return [r.uuid for r in self._records(False, queue)]

    def ids_between(self, first: int, last: int, page: int = 500) -> Iterator[str]:
        """Yield the integer ids in [first, last] that exist, in pages (a huge range costs what it matches)."""
        low = first
        while True:
            with translate_errors(self.config):
                found = self.client.zrangebyscore(self.order_key, low, last, start=0, num=page, withscores=True)
            yield from (str(int(score)) for _, score in found)
            if len(found) < page:
                return
            low = int(found[-1][1]) + 1

    def find(self, ident: str) -> FailedJobRecord | None:
        """Find by uuid or integer id."""
        uuid = self._uuid(str(ident))
        if uuid is None:
            return None
        with translate_errors(self.config):
            raw = self.client.hget(self.records_key, uuid)
            score = self.client.zscore(self.order_key, uuid)
        return self._record(uuid, score or 0, raw) if raw is not None else None

    def forget(self, ident: str) -> bool:
        uuid = self._uuid(str(ident))
        if uuid is None:
            return False
        with translate_errors(self.config):
            return int(self._forget(keys=[self.records_key, self.order_key], args=[uuid])) > 0

    def forget_record(self, record: FailedJobRecord) -> bool:
        with translate_errors(self.config):
            keys = [self.records_key, self.order_key]
            return int(self._forget_record(keys=keys, args=[record.uuid, int(record.id)])) > 0

    def flush(self, older_than_hours: float | None = None) -> int:
        """Delete all records, or those that failed more than N hours ago."""
        cutoff = None if older_than_hours is None else now() - older_than_hours * 3600
        doomed = [r.uuid for r in self._records(False, None) if cutoff is None or r.failed_at <= cutoff]
        deleted = 0
        with translate_errors(self.config):
            for start in range(0, len(doomed), 500):
                deleted += int(self._forget(keys=[self.records_key, self.order_key], args=doomed[start:start + 500]))
        return deleted

    def count(self, queue: str | None = None) -> int:
        if queue is None:
            with translate_errors(self.config):
                return int(self.client.hlen(self.records_key))
        return len(self._records(False, queue))

    def _uuid(self, ident: str) -> str | None:
        with translate_errors(self.config):
            if self.client.hexists(self.records_key, ident):
                return ident
            if ident.isdigit():
                found = self.client.zrangebyscore(self.order_key, int(ident), int(ident))
                return found[0] if found else None
        return None

    @staticmethod
    def _record(uuid: str, score: float, raw: str) -> FailedJobRecord:
        try:
            data = json.loads(raw)
            return FailedJobRecord(int(score), uuid, str(data["connection"]), str(data["queue"]), str(data["payload"]),
                                   str(data["exception"]), float(data["failed_at"]))
        except Exception:  # a record the store was made to hold: listed as unreadable, never fatal
            return FailedJobRecord(int(score), uuid, "?", "?", str(raw)[:10_000], "unreadable failed-job record", 0.0)

    def close(self) -> None:
        close_client(self.client)
