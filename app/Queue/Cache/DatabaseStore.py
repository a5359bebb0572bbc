"""Cache store on the `cache` table: JSON values with an expiry, atomic add and increment."""
from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.Queue.Database import mysql_rows
from app.Queue.Database.connection import run_transaction, translate_errors
from app.Queue.Database.tables import cache
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.Database.postgres_session import PostgresSession

FOREVER = 2**62
PRUNE_LOTTERY = 200  # one write in N deletes expired rows, so the table does not grow forever
# PostgreSQL: any number of rows in one statement, so on an autocommit connection one round trip
# (a pooled transaction costs four: ping, BEGIN, the upsert, COMMIT). Keys must be distinct.
# The arrays travel in binary (%(...)b): psycopg escapes each element of a text array with a
# regular expression, ~8 us per JSON value, where the binary form only prefixes its length.
POSTGRES_UPSERT = (
    "INSERT INTO cache (key, value, expiration) "
    "SELECT * FROM unnest(%(keys)b::text[], %(values)b::text[], %(expirations)b::bigint[]) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expiration = EXCLUDED.expiration")
POSTGRES_READ = "SELECT key, value, expiration FROM cache WHERE key = ANY(%(keys)s::text[])"


class DatabaseStore:
    """A CacheStore over SQL; every operation is one short transaction (rerun after a MySQL deadlock)."""

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        self._url = str(engine.url)
        self._upsert_stmt: Any = None
        self._upsert_sql: tuple[str, bool] | None = None  # (text, positional) of the upsert, for put_all
        self.lock_retries = 0  # deadlocks and lock-wait timeouts retried so far
        self._postgres: PostgresSession | None = None
        if engine.dialect.name == "postgresql":
            # lazy: psycopg's session helpers only on PostgreSQL
            from app.Queue.Database.postgres_session import PostgresSession

            self._postgres = PostgresSession(engine)

    def _key(self, key: str) -> str:
        return self.prefix + key

    @staticmethod
    def _expiry(ttl: float | None) -> int:
        return FOREVER if ttl is None else int(now() + ttl + 0.999)

    def get(self, key: str) -> Any | None:
        return self.many([key]).get(key)

    def many(self, keys: list[str]) -> dict[str, Any]:
        """Read several keys in one query."""
        full = {self._key(k): k for k in keys}
        if not full:
            return {}
        if self._postgres is not None:  # one round trip, rerun on a new connection if the server restarted
            rows = self._postgres.run(POSTGRES_READ, {"keys": list(full)})
        else:
            with translate_errors(self._url), self.engine.connect() as conn:
                rows = conn.execute(select(cache.c.key, cache.c.value, cache.c.expiration).where(cache.c.key.in_(list(full)))).all()
        t = now()
        return {full[key]: _loads(value) for key, value, expiration in rows if expiration > t}

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.put_many([(key, value, ttl)])

    def put_many(self, items: list[tuple[str, Any, float | None]]) -> None:
        """Write several keys in one transaction (one upsert statement, executemany)."""
        if not items:
            return
        rows = [{"key": self._key(k), "value": json.dumps(v), "expiration": self._expiry(ttl)} for k, v, ttl in items]
        self._write_rows(rows)

    def put_all(self, keys: list[str], value: Any, ttl: float | None = None) -> None:
        """Write one value under many keys in one transaction, serialising it once (bulk pending statuses)."""
        if not keys:
            return
        body, expiration = json.dumps(value), self._expiry(ttl)
        if self._postgres is not None:
            self._upsert_postgres([{"key": self._key(k), "value": body, "expiration": expiration} for k in keys])
            return
        prefix = self.prefix
        rows = [(prefix + k, body, expiration) for k in keys]

        def upsert(conn: Any) -> None:
            sql, positional = self._upsert_text(conn)
            head, values, tail = sql.partition("VALUES (%s, %s, %s)")
            if values and mysql_rows.applies(conn):  # each row's one new value (its key) escaped, not three
                mysql_rows.insert_rows(conn, head + "VALUES ", rows, (True, False, False), tail)
            else:
                conn.exec_driver_sql(sql, rows if positional else [dict(zip(("key", "value", "expiration"), r)) for r in rows])
            self._maybe_prune(conn)

        run_transaction(self.engine, upsert, self._count_retry)

    def _write_rows(self, rows: list[dict[str, Any]]) -> None:
        """Upsert prepared rows in one transaction (one statement on PostgreSQL, executemany elsewhere)."""
        if self._postgres is not None:
            self._upsert_postgres(rows)
            return

        def upsert(conn: Any) -> None:
            conn.execute(self._upsert(conn.dialect.name), rows)
            self._maybe_prune(conn)

        run_transaction(self.engine, upsert, self._count_retry)

    def _upsert_text(self, conn: Any) -> tuple[str, bool]:
        """The upsert as this dialect spells it, for rows handed to the driver as they are (key, value,
        expiration): SQLAlchemy's per-row parameter processing cost SQLite ~8 us a row, more than the write."""
        if self._upsert_sql is None:
            compiled = self._upsert(conn.dialect.name).compile(dialect=conn.dialect, column_keys=["key", "value", "expiration"])
            positional = bool(compiled.positional) and list(compiled.positiontup or ()) == ["key", "value", "expiration"]
            self._upsert_sql = (compiled.string, positional)
        return self._upsert_sql

    def _upsert_postgres(self, rows: list[dict[str, Any]]) -> None:
        """Write rows in one statement (the last value of a repeated key wins, as in executemany)."""
        assert self._postgres is not None
        last = {row["key"]: row for row in rows}
        self._postgres.run(POSTGRES_UPSERT, {"keys": list(last), "values": [r["value"] for r in last.values()],
                                             "expirations": [r["expiration"] for r in last.values()]})
        if random.randrange(PRUNE_LOTTERY) == 0:
            run_transaction(self.engine, lambda conn: conn.execute(delete(cache).where(cache.c.expiration <= now())))

    def _upsert(self, dialect: str) -> Any:
        if self._upsert_stmt is None:
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt = sqlite_insert(cache)
                self._upsert_stmt = stmt.on_conflict_do_update(
                    index_elements=[cache.c.key], set_={"value": stmt.excluded.value, "expiration": stmt.excluded.expiration})
            elif dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as postgres_insert

                stmt = postgres_insert(cache)
                self._upsert_stmt = stmt.on_conflict_do_update(
                    index_elements=[cache.c.key], set_={"value": stmt.excluded.value, "expiration": stmt.excluded.expiration})
            else:
                from sqlalchemy.dialects.mysql import insert as mysql_insert

                stmt = mysql_insert(cache)
                self._upsert_stmt = stmt.on_duplicate_key_update(value=stmt.inserted.value, expiration=stmt.inserted.expiration)
        return self._upsert_stmt

    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        payload, exp, k = json.dumps(value), self._expiry(ttl), self._key(key)

        def take(conn: Any) -> None:
            # An expired row counts as absent: take it over in place.
            taken = conn.execute(
                update(cache).where(cache.c.key == k, cache.c.expiration <= now()).values(value=payload, expiration=exp)
            ).rowcount
            if not taken:
                conn.execute(cache.insert().values(key=k, value=payload, expiration=exp))

        try:
            run_transaction(self.engine, take, self._count_retry)
            return True
        except IntegrityError:
            return False

    def forget(self, key: str) -> None:
        k = self._key(key)
        run_transaction(self.engine, lambda conn: conn.execute(delete(cache).where(cache.c.key == k)), self._count_retry)

    def forget_many(self, keys: list[str]) -> None:
        """Delete several keys in one transaction."""
        full = [self._key(k) for k in keys]
        if full:
            run_transaction(self.engine, lambda conn: conn.execute(delete(cache).where(cache.c.key.in_(full))), self._count_retry)

    def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        k = self._key(key)
        for _ in range(5):
            try:
                return run_transaction(self.engine, lambda conn: self._increment_in(conn, k, amount, ttl), self._count_retry)
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
        # autoescape: `_` and `%` in a prefix are literal characters, not LIKE wildcards.
        query = delete(cache).where(cache.c.key.startswith(self._key(prefix), autoescape=True))
        return run_transaction(self.engine, lambda conn: conn.execute(query).rowcount, self._count_retry)

    def _count_retry(self, _code: int) -> None:
        self.lock_retries += 1

    def _maybe_prune(self, conn: Any) -> None:
        if random.randrange(PRUNE_LOTTERY) == 0:
            conn.execute(delete(cache).where(cache.c.expiration <= now()))


def _loads(value: Any) -> Any:
    """Decode a stored value; one the store was made to hold that is not JSON reads as absent."""
    try:
        return json.loads(value)
    except (ValueError, TypeError, RecursionError):
        return None
