"""Create SQLAlchemy engines: SQLite tuned for several worker processes, MySQL with a pool."""
from __future__ import annotations

import contextlib
import logging
import random
import time
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from app.Queue.errors import ConnectionUnavailableError, MissingTablesError

T = TypeVar("T")
log = logging.getLogger("queue.database")

SQLITE_BUSY_TIMEOUT = 60
# MySQL/MariaDB errors after which rerunning the transaction is the documented remedy:
# deadlock found (1213), lock wait timeout (1205).
RETRYABLE_MYSQL_ERRORS = (1213, 1205)
RETRY_LIMIT = 8


def make_engine(url: str) -> Engine:
    """Build an engine; SQLite transactions take the write lock up front (BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return _mysql_engine(url)


def _sqlite_engine(url: str) -> Engine:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)  # SQLite makes the file, not its folder
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Autocommit at the driver level so that we emit BEGIN ourselves (pysqlite's
        # deferred BEGIN would let two workers both read, then deadlock on upgrade).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _mysql_engine(url: str) -> Engine:
    """A pooled MySQL/MariaDB engine tuned for short queue transactions.

    READ COMMITTED: the claim's locking read takes no gap locks, so claims do not block
    dispatchers' inserts and deadlock less. Every use goes through a Connection that
    commits or rolls back itself, so the pool's extra ROLLBACK on check-in is skipped.
    The pre-ping (a cheap COM_PING) lets the pool replace connections a restart killed.
    """
    return create_engine(url, isolation_level="READ COMMITTED", pool_reset_on_return=None, pool_pre_ping=True,
                         pool_recycle=3600, pool_size=5, max_overflow=10)


def run_transaction(engine: Engine, fn: Callable[[Connection], T], on_retry: Callable[[int], None] | None = None) -> T:
    """Run `fn` in one transaction, rerunning it after a MySQL deadlock or lock-wait timeout."""
    url = str(engine.url)
    for attempt in range(RETRY_LIMIT):
        try:
            with translate_errors(url), engine.begin() as conn:
                return fn(conn)
        except OperationalError as exc:
            code = getattr(exc.orig, "args", [None])[0]
            if code not in RETRYABLE_MYSQL_ERRORS or attempt == RETRY_LIMIT - 1:
                raise
            if on_retry is not None:
                on_retry(code)
            log.debug("retrying a transaction after MySQL error %s", code)
            # The whole transaction was rolled back (by InnoDB on a deadlock, by the context
            # manager on a lock-wait timeout), so rerunning fn is safe. Jitter keeps the same
            # two transactions from colliding again.
            time.sleep(random.uniform(0.5, 1.5) * 0.005 * (2**attempt))
    raise AssertionError("unreachable")


def describe(url: str) -> str:
    """Say where a database is, without its password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite file {parsed.database}"
    return f"{parsed.get_backend_name()} at {parsed.host}:{parsed.port or 3306}/{parsed.database}"


def is_missing_table(exc: BaseException) -> bool:
    """Tell whether a database error means the queue tables were never migrated."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or "doesn't exist" in text or "1146" in text


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors about missing tables or unreachable servers into one-line queue errors."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        if is_missing_table(exc):
            raise MissingTablesError(describe(url)) from exc
        if _is_unreachable(exc):
            raise ConnectionUnavailableError(
                f"cannot connect to the database ({describe(url)}): {_first_line(exc)}; check DB_HOST, DB_PORT and that the server is running"
            ) from exc
        raise
    except DBAPIError as exc:
        if _is_unreachable(exc):
            raise ConnectionUnavailableError(f"cannot connect to the database ({describe(url)}): {_first_line(exc)}") from exc
        raise


def _is_unreachable(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        s in text
        for s in ("can't connect", "unable to open database", "connection refused", "access denied", "unknown database", "lost connection")
    )


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0]
