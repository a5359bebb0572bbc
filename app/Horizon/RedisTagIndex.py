"""The per-tag index in Redis (Horizon's tag lists): one zset per tag and kind, job ids scored by time.

Keys share the hash tag of the records they index (`{completed}` or `{failed_jobs}`), so a
cluster keeps them on one slot. `<base>:<kind>` registers each tag (scored by its newest entry)
so pruning visits tags, not keys. Failed entries are checked against the failed records hash
when counted or listed: a record forgotten or retried by any means stops counting, and its
entry is dropped then.
"""
from __future__ import annotations

from typing import Any, Sequence

from app.Queue import LuaScripts
from app.Queue.Drivers.RedisConnection import translate_errors

PRUNE_TAGS = 500


class RedisTagIndex:
    """Add, count, list and prune tag entries in Redis zsets under `base`."""

    def __init__(self, client: Any, config: Any, base: str, records_key: str | None = None) -> None:
        self.client = client
        self.config = config
        self.base = base
        self.records_key = records_key  # the failed records hash (entries without a record are stale)
        self._drop_stale = client.register_script(LuaScripts.TAG_DROP_STALE) if records_key else None

    def key(self, tag: str, kind: str) -> str:
        """The zset of `tag`'s jobs of `kind` (the tag is stored text; the hash tag is in `base`)."""
        return f"{self.base}:{kind}:{tag}"

    def add(self, kind: str, entries: Sequence[tuple[str, str, float]]) -> None:
        """Index (tag, job id, at) entries with one round trip."""
        if not entries:
            return
        newest: dict[str, float] = {}
        with translate_errors(self.config):
            pipe = self.client.pipeline(transaction=False)
            for tag, job_id, at in entries:
                pipe.zadd(self.key(tag, kind), {job_id: float(at)})
                newest[tag] = max(newest.get(tag, 0.0), float(at))
            pipe.zadd(f"{self.base}:{kind}", newest)
            pipe.execute()

    def _clean(self, tag: str, kind: str) -> None:
        if self._drop_stale is not None:
            self._drop_stale(keys=[self.key(tag, kind), str(self.records_key)])

    def count(self, tag: str, kind: str, since: float = 0.0, cap: int | None = None) -> int:
        """Jobs of `kind` carrying `tag` (since `since`); ZCOUNT costs the same whatever the count, so `cap` only bounds
        the answer (cap + 1 past it), as the SQL index's does."""
        with translate_errors(self.config):
            self._clean(tag, kind)
            found = int(self.client.zcount(self.key(tag, kind), since if since > 0 else "-inf", "+inf"))
        return found if cap is None else min(found, cap + 1)

    def ids(self, tag: str, kind: str, offset: int, limit: int, since: float = 0.0) -> list[str]:
        """Job ids carrying `tag`, newest first."""
        with translate_errors(self.config):
            self._clean(tag, kind)
            found = self.client.zrevrangebyscore(self.key(tag, kind), "+inf", since if since > 0 else "-inf",
                                                 start=offset, num=limit)
        return [str(m) for m in found]

    def prune(self, kind: str, before: float) -> int:
        """Drop entries of `kind` older than `before`, tag by tag; tags left empty leave the register."""
        removed, registry = 0, f"{self.base}:{kind}"
        with translate_errors(self.config):
            start = 0
            while True:
                tags = self.client.zrange(registry, start, start + PRUNE_TAGS - 1, withscores=True)
                pipe = self.client.pipeline(transaction=False)
                for tag, _ in tags:
                    pipe.zremrangebyscore(self.key(tag, kind), "-inf", f"({before!r}")
                removed += sum(int(n) for n in pipe.execute()) if tags else 0
                if len(tags) < PRUNE_TAGS:
                    break
                start += PRUNE_TAGS
            for tag, _ in self.client.zrangebyscore(registry, "-inf", f"({before!r}", withscores=True):
                self.client.delete(self.key(tag, kind))
            self.client.zremrangebyscore(registry, "-inf", f"({before!r}")
        return removed

    def forget_tag(self, tag: str, kind: str) -> int:
        """Drop a tag's entries of `kind` (a tag no longer monitored)."""
        with translate_errors(self.config):
            removed = int(self.client.zcard(self.key(tag, kind)))
            self.client.delete(self.key(tag, kind))
            self.client.zrem(f"{self.base}:{kind}", tag)
        return removed
