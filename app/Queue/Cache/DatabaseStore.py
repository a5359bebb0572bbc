"""Cache store on the `cache` table: JSON values with an expiry, atomic add and increment."""
from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.Queue.database.connection import translate_errors
from app.Queue.database.tables import cache
from app.Queue.support.time import now

FOREVER = 2**62
PRUNE_LOTTERY = 200  # one write in N deletes expired rows, so the table does not grow forever


class DatabaseStore:
    """A CacheStore over SQL; every operation is one short transaction."""

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        self._url = str(engine.url)
        self._upsert_stmt: Any = None

    def _key(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _expiry(ttl: float | None) -> int:
        return FOREVER if ttl is None else int(now() + ttl + 0.999)

    def get(self, key: str) -> Any | None:
        with translate_errors(self._url), self.engine.connect() as conn:
            row = conn.execute(select(cache.c.value, cache.c.expiration).where(cache.c.key == self._key(key))).first()
        if row is None or row.expiration <= now():
            return None
        return json.loads(row.value)

    def many(self, keys: list[str]) -> dict[str, Any]:
        """Read several keys in one query."""
        full = {self._key(k): k for k in keys}
        if not full:
            return {}
        with translate_errors(self._url), self.engine.connect() as conn:
            rows = conn.execute(select(cache.c.key, cache.c.value, cache.c.expiration).where(cache.c.key.in_(list(full)))).all()
        t = now()
        return {full[r.key]: json.loads(r.value) for r in rows if r.expiration > t}

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.put_many([(key, value, ttl)])

    def put_many(self, items: list[tuple[str, Any, float | None]]) -> None:
        """Write several keys in one transaction (one upsert statement, executemany)."""
        if not items:
            return
        rows = [{"key": self._key(k), "value": json.dumps(v), "expiration": self._expiry(ttl)} for k, v, ttl in items]
        with translate_errors(self._url), self.engine.begin() as conn:
            conn.execute(self._upsert(conn.dialect.name), rows)
            self._maybe_prune(conn)

    def _upsert(self, dialect: str) -> Any:
        if self._upsert_stmt is None:
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt = sqlite_insert(cache)
                self._upsert_stmt = stmt.on_conflict_do_update(
                    index_elements=[cache.c.key], set_={"value": stmt.excluded.value, "expiration": stmt.excluded.expiration})
            else:
                from sqlalchemy.dialects.mysql import insert as mysql_insert

                stmt = mysql_insert(cache)
                self._upsert_stmt = stmt.on_duplicate_key_update(value=stmt.inserted.value, expiration=stmt.inserted.expiration)
        return self._upsert_stmt

    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        payload, exp, k = json.dumps(value), self._expiry(ttl), self._key(key)
        with translate_errors(self._url):
            try:
                with self.engine.begin() as conn:
                    # An expired row counts as absent: take it over in place.
                    taken = conn.execute(
                        update(cache).where(cache.c.key == k, cache.c.expiration <= now()).values(value=payload, expiration=exp)
                    ).rowcount
                    if not taken:
                        conn.execute(cache.insert().values(key=k, value=payload, expiration=exp))
                return True
            except IntegrityError:
                return False

    def forget(self, key: str) -> None:
        with translate_errors(self._url), self.engine.begin() as conn:
            conn.execute(delete(cache).where(cache.c.key == self._key(key)))

    def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        k = self._key(key)
        with translate_errors(self._url):
            for _ in range(5):
                try:
                    with self.engine.begin() as conn:
                        return self._increment_in(conn, k, amount, ttl)
                except IntegrityError:
                    continue  # another process created the row first; update it now
        raise RuntimeError(f"could not increment cache key {key!r}")

    def _increment_in(self, conn: Any, k: str, amount: int, ttl: float | None) -> int:
        row = conn.execute(select(cache.c.value, cache.c.expiration).where(cache.c.key == k).with_for_update()).first()
        if row is None or row.expiration <= now():
            value = amount
            if row is None:
                conn.execute(cache.insert().values(key=k, value=json.dumps(value), expiration=self._expiry(ttl)))
            else:
                conn.execute(update(cache).where(cache.c.key == k).values(value=json.dumps(value), expiration=self._expiry(ttl)))
            return value
        value = int(json.loads(row.value)) + amount
        conn.execute(update(cache).where(cache.c.key == k).values(value=json.dumps(value)))
        return value

    def flush_prefix(self, prefix: str) -> int:
        """Delete every key starting with `prefix`."""
        with translate_errors(self._url), self.engine.begin() as conn:
            return conn.execute(delete(cache).where(cache.c.key.like(self._key(prefix).replace("%", r"\%") + "%"))).rowcount

    def _maybe_prune(self, conn: Any) -> None:
        if random.randrange(PRUNE_LOTTERY) == 0:
            conn.execute(delete(cache).where(cache.c.expiration <= now()))
