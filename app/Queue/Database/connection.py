"""Create SQLAlchemy engines: SQLite tuned for several worker processes, MySQL and PostgreSQL with a pool."""
from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.sql import ClauseElement

from app.Queue.errors import ConnectionUnavailableError, MissingTablesError
from app.Queue.Database.mysql_checks import storage_error
from app.Queue.Database.steady_socket import steady_timeouts

T = TypeVar("T")
log = logging.getLogger("queue.database")

SQLITE_BUSY_TIMEOUT = 60
# MySQL/MariaDB errors after which rerunning the transaction is the documented remedy:
# deadlock found (1213), lock wait timeout (1205).
RETRYABLE_MYSQL_ERRORS = (1213, 1205)
# PostgreSQL's equivalents (SQLSTATE): deadlock_detected, serialization_failure.
RETRYABLE_POSTGRES_STATES = ("40P01", "40001")
# PostgreSQL SQLSTATEs that mean the server cannot be used right now: connection exceptions
# (class 08), invalid authorization (28), unknown database (3D000), and a server shutting
# down, starting up or restarting (57P01-57P03).
POSTGRES_UNREACHABLE_STATES = ("08", "28", "3D000", "57P01", "57P02", "57P03")
POSTGRES_CONNECT_TIMEOUT = 10
RESTART_WINDOW = 60.0  # seconds a restarting PostgreSQL is waited for before its errors surface
RESTART_PAUSE = 0.2
RETRY_LIMIT = 8


def make_engine(url: str) -> Engine:
    """Build an engine; SQLite transactions take the write lock up front (BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql"):
        return _postgres_engine(url)
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
        # A payload written as bytes that are not UTF-8 must reach the worker (which refuses it)
        # rather than raise inside every claim: sqlite3's default text factory is strict.
        dbapi_conn.text_factory = _lenient_text
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _lenient_text(raw: bytes) -> str:
    """Decode a TEXT value; invalid UTF-8 becomes U+FFFD instead of an error."""
    return raw.decode("utf-8", "replace")


def _mysql_engine(url: str) -> Engine:
    """A pooled MySQL/MariaDB engine tuned for short queue transactions.

    READ COMMITTED: the claim's locking read takes no gap locks, so claims do not block
    dispatchers' inserts and deadlock less. Every use goes through a Connection that
    commits or rolls back itself, so the pool's extra ROLLBACK on check-in is skipped.
    The pre-ping (a cheap COM_PING) lets the pool replace connections a restart killed.
    FOUND_ROWS (SQLAlchemy's default, restated because connect_args replaces it) makes
    rowcount mean matched rows; MULTI_STATEMENTS lets the claim send several statements
    in one round trip (every statement here binds its values, none splices text in).
    Each connection skips PyMySQL's unchanged settimeout calls (app/Queue/Database/steady_socket.py).
    """
    from pymysql.constants import CLIENT

    engine = create_engine(url, isolation_level="READ COMMITTED", pool_reset_on_return=None, pool_pre_ping=True,
                           pool_recycle=3600, pool_size=5, max_overflow=10,
                           connect_args={"client_flag": CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS})
    event.listen(engine, "connect", lambda dbapi_connection, _record: steady_timeouts(dbapi_connection))
    return engine


def _postgres_engine(url: str) -> Engine:
    """A pooled PostgreSQL engine (psycopg 3) for short queue transactions, READ COMMITTED.

    The pre-ping lets the pool replace connections a server restart killed, and connecting
    rides out a restart (see _RidesOutRestarts); a connect timeout turns an unreachable host
    into a clear error instead of a hang. The worker's claim loop takes one connection out of
    this pool for good (app/Queue/Database/postgres_session.py).
    """
    engine = create_engine(url, pool_pre_ping=True, pool_recycle=3600, pool_size=5, max_overflow=10,
                           connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT, "application_name": "queue"})
    restarts = _RidesOutRestarts()
    event.listen(engine, "do_connect", restarts)
    event.listen(engine, "connect", restarts.reached_server)
    return engine


class _RidesOutRestarts:
    """Connect, retrying for up to RESTART_WINDOW seconds while a server this engine has reached
    before refuses connections or is starting up or shutting down (a restart: workers wait and
    carry on). A server never reached fails at once: that is a setting to fix, said in one line."""

    def __init__(self) -> None:
        self.reached = False

    def reached_server(self, *_args: Any) -> None:
        self.reached = True

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        if not self.reached:
            return None  # the engine connects as usual, and wraps any error
        deadline = time.monotonic() + RESTART_WINDOW
        while True:
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as exc:
                if not _is_unreachable(exc) or time.monotonic() >= deadline:
                    return None  # give up: the engine tries once more and raises its wrapped error
                log.info("PostgreSQL is not accepting connections (%s); retrying", _first_line(exc))
                time.sleep(RESTART_PAUSE)


def retryable_code(exc: BaseException) -> int | str | None:
    """The error code when `exc` is a deadlock or lock/serialization failure that a rerun remedies, else None."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    if state is not None:
        return state if state in RETRYABLE_POSTGRES_STATES else None
    code = getattr(orig, "args", [None])[0] if getattr(orig, "args", None) else None
    return code if code in RETRYABLE_MYSQL_ERRORS else None


def run_transaction(engine: Engine, fn: Callable[[Connection], T], on_retry: Callable[[int], None] | None = None) -> T:
    """Run `fn` in one transaction, rerunning it after a MySQL deadlock or lock-wait timeout."""
    url = str(engine.url)

    def attempt() -> T:
        with translate_errors(url), engine.begin() as conn:
            return fn(conn)

    return retry_lock_errors(attempt, on_retry)


class _LostBeforeCommit(Exception):
    """The held connection died before the transaction sent its COMMIT."""


class HeldConnection:
    """Run raw transactions on one connection kept for the thread that first used it (the worker's hot path).

    A pool checkout costs a pre-ping round trip plus pool bookkeeping, a fifth of a no-op
    job on MariaDB; the owner thread skips both. Instead of pinging, a transaction that finds
    its connection dead before anything was committed reruns once on a fresh one. Other
    threads check out a pooled connection per transaction, as everything else does.
    Driver errors are raised as SQLAlchemy's, so callers and retries see one kind of error.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)
        self._owner = threading.get_ident()
        self._pid = os.getpid()
        self._conn: Connection | None = None
        self._pool: Any = None

    def transaction(self, fn: Callable[[RawTransaction], T], on_retry: Callable[[int], None] | None = None) -> T:
        """Run `fn` in one transaction and commit, rerunning it after a deadlock or lock-wait timeout."""
        return retry_lock_errors(lambda: self._attempt(fn), on_retry)

    def _attempt(self, fn: Callable[[RawTransaction], T]) -> T:
        with translate_errors(self._url):
            if threading.get_ident() != self._owner or os.getpid() != self._pid:
                with self.engine.connect() as conn:
                    return self._run(conn, fn, rerun_if_lost=False)
            try:
                return self._run(self._connection(), fn, rerun_if_lost=True)
            except _LostBeforeCommit:
                log.info("held database connection was lost; reconnecting")  # e.g. the server restarted
                return self._run(self._connection(), fn, rerun_if_lost=False)

    def _run(self, conn: Connection, fn: Callable[[RawTransaction], T], rerun_if_lost: bool) -> T:
        tx = RawTransaction(conn)
        try:
            tx.begin()
            result = fn(tx)
            tx.commit()
            return result
        except BaseException as exc:
            tx.rollback(exc)
            if conn is self._conn and conn.invalidated:
                self.close()
            if not tx.is_driver_error(exc):
                raise
            if rerun_if_lost and conn.invalidated and not tx.commit_sent:
                raise _LostBeforeCommit() from exc  # nothing was committed, so running fn again is safe
            raise tx.wrap(exc) from exc

    def _connection(self) -> Connection:
        if self._conn is not None and self._pool is not self.engine.pool:
            self.close()  # the engine was disposed: its old connections must not be used
        if self._conn is None:
            self._conn = self.engine.connect()
            self._pool = self.engine.pool
        return self._conn

    def close(self) -> None:
        """Hand the held connection back (a dead one is discarded by the pool)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def retry_lock_errors(attempt: Callable[[], T], on_retry: Callable[[int], None] | None = None) -> T:
    """Call `attempt` (one whole transaction) again after a deadlock, lock-wait timeout or serialization failure."""
    for n in range(RETRY_LIMIT):
        try:
            return attempt()
        except OperationalError as exc:
            code = retryable_code(exc)
            if code is None or n == RETRY_LIMIT - 1:
                raise
            if on_retry is not None:
                on_retry(code)  # type: ignore[arg-type]
            log.debug("retrying a transaction after database error %s", code)
            # The whole transaction was rolled back (by InnoDB on a deadlock, by the context
            # manager on a lock-wait timeout), so rerunning it is safe. Jitter keeps the same
            # two transactions from colliding again.
            time.sleep(random.uniform(0.5, 1.5) * 0.005 * (2**n))
    raise AssertionError("unreachable")


def describe(url: str) -> str:
    """Say where a database is, without its password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite file {parsed.database}"
    backend = parsed.get_backend_name()
    default_port = 5432 if backend == "postgresql" else 3306
    return f"{backend} at {parsed.host}:{parsed.port or default_port}/{parsed.database}"


def is_missing_table(exc: BaseException) -> bool:
    """Tell whether a database error means the queue tables were never migrated."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "42P01":  # PostgreSQL: undefined_table
        return True
    text = str(orig).lower()
    return "no such table" in text or "doesn't exist" in text or "1146" in text


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors about missing tables or unreachable servers into one-line queue errors."""
    try:
        yield
    except (OperationalError, ProgrammingError) as exc:
        _raise_storage_error(exc)
        if is_missing_table(exc):
            raise MissingTablesError(describe(url)) from exc
        if _is_unreachable(exc):
            raise ConnectionUnavailableError(
                f"cannot connect to the database ({describe(url)}): {_first_line(exc)}; {_hint(url, exc)}"
            ) from exc
        raise
    except DBAPIError as exc:
        _raise_storage_error(exc)
        if _is_unreachable(exc):
            raise ConnectionUnavailableError(f"cannot connect to the database ({describe(url)}): {_first_line(exc)}") from exc
        raise


def _raise_storage_error(exc: BaseException) -> None:
    """Raise a one-line error for a MySQL error about the data (charset, length, packet); the raw one quotes the payload."""
    clear = storage_error(exc)
    if clear is not None:
        raise clear from None


def _is_unreachable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    if state is not None and state.startswith(POSTGRES_UNREACHABLE_STATES):
        return True
    text = str(orig).lower()
    if "connection failed" in text or "server closed the connection" in text or "consuming input failed" in text:
        return True  # psycopg: refused, timed out or dropped (no SQLSTATE)
    return any(
        s in text
        for s in ("can't connect", "unable to open database", "connection refused", "access denied", "unknown database", "lost connection")
    )


def _hint(url: str, exc: BaseException) -> str:
    """How to fix it: the settings to check, naming the server."""
    if not url.startswith("postgresql"):
        return "check DB_HOST, DB_PORT and that the server is running"
    orig = getattr(exc, "orig", exc)
    state, text = getattr(orig, "sqlstate", None) or "", str(orig)
    if state.startswith("28") or "authentication failed" in text or "no password supplied" in text:
        return "check DB_USERNAME and DB_PASSWORD"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return "check DB_DATABASE (create the database, then run `python artisan migrate`)"
    return "check DB_HOST and DB_PORT; is PostgreSQL running?"


# psycopg's connection errors repeat the host and port that describe() already gives.
_PSYCOPG_PREFIX = re.compile(r'^connection failed: connection to server at "[^"]*", port \d+ failed: (FATAL:\s+)?')


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", exc)).splitlines() or [type(exc).__name__]
    return _PSYCOPG_PREFIX.sub("", lines[0])


class Prepared:
    """A Core statement compiled once for one dialect, to run on a DBAPI cursor with no per-call compiling."""

    __slots__ = ("sql", "defaults", "order", "reports_id")

    def __init__(self, stmt: ClauseElement, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)  # e.g. LIMIT 1, bound as a parameter
        self.order = tuple(compiled.positiontup or ()) if compiled.positional else None
        self.reports_id = False

    @classmethod
    def raw(cls, sql: str, defaults: Mapping[str, Any] | None = None, reports_id: bool = False) -> Prepared:
        """A statement written for the driver's named (pyformat) style, e.g. one using a session variable.
        `reports_id`: the statement sets LAST_INSERT_ID(expr), and its result is (rowcount, that id)."""
        prepared = cls.__new__(cls)
        prepared.sql, prepared.defaults, prepared.order = sql, dict(defaults or {}), None
        prepared.reports_id = reports_id
        return prepared

    def args(self, params: Mapping[str, Any]) -> Any:
        """Driver arguments: a dict for named styles (PyMySQL), a tuple in order for positional ones (SQLite)."""
        merged = {**self.defaults, **params}
        return merged if self.order is None else tuple(merged[name] for name in self.order)


class RawTransaction:
    """Statements of one transaction sent straight to the DBAPI connection of a pooled Connection.

    On MySQL/MariaDB consecutive statements go in one round trip (a multi-statement) and the
    COMMIT can ride along with the last ones; SQLite runs them one by one after BEGIN IMMEDIATE
    (the same write lock up front that the engine's begin hook takes).
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect
        self._multi = conn.dialect.name != "sqlite"
        self._dbapi_conn: Any = conn.connection.dbapi_connection
        self._cursor: Any = self._dbapi_conn.cursor()
        self._open = False
        self.commit_sent = False

    def begin(self) -> None:
        """Start the transaction: SQLite takes the write lock now; MySQL starts one with the first statement."""
        if not self._multi:
            self._cursor.execute("BEGIN IMMEDIATE")
            self._open = True

    def run(self, *steps: tuple[Prepared, Mapping[str, Any]], commit: bool = False) -> list[Any]:
        """Run statements in order; per statement, its rows (a list) or, when it returns none, its rowcount
        ((rowcount, id) for a statement that `reports_id`)."""
        self._open = True
        if not self._multi:
            out = [self._one(prepared, prepared.args(params)) for prepared, params in steps]
            if commit:
                self.commit()
            return out
        sql = "; ".join([p.sql for p, _ in steps] + (["COMMIT"] if commit else []))
        self.commit_sent = commit
        args: dict[str, Any] = {}
        for prepared, params in steps:
            args.update(prepared.args(params))  # the statements of one call use distinct names
        cursor = self._cursor
        cursor.execute(sql, args)
        out = [self._result(steps[0][0])]
        for prepared, _ in steps[1:]:
            cursor.nextset()  # raises the error of a later statement (the server stops there)
            out.append(self._result(prepared))
        while cursor.nextset():  # the COMMIT's OK, when it rode along
            pass
        if commit:
            self._open = False
        return out

    def _one(self, prepared: Prepared, args: Any) -> Any:
        self._cursor.execute(prepared.sql, args)
        return self._result(prepared)

    def _result(self, prepared: Prepared) -> Any:
        cursor = self._cursor
        if cursor.description is not None:
            return cursor.fetchall()
        return (cursor.rowcount, cursor.lastrowid or 0) if prepared.reports_id else cursor.rowcount

    def commit(self) -> None:
        """Commit unless a COMMIT already went out with the last statements."""
        if self._open:
            self._open = False
            self.commit_sent = True
            self._dbapi_conn.commit()

    def rollback(self, exc: BaseException) -> None:
        """Roll back after `exc`; a lost connection is invalidated so the pool does not hand it out again."""
        if self.is_driver_error(exc) and self.dialect.is_disconnect(exc, self._dbapi_conn, self._cursor):
            self._conn.invalidate(exc)
            return
        with contextlib.suppress(Exception):
            self._dbapi_conn.rollback()

    def is_driver_error(self, exc: BaseException) -> bool:
        return isinstance(exc, self.dialect.loaded_dbapi.Error)

    def wrap(self, exc: BaseException) -> BaseException:
        """The SQLAlchemy exception SQLAlchemy itself would raise for this driver error."""
        return DBAPIError.instance(None, None, exc, self.dialect.loaded_dbapi.Error,  # type: ignore[arg-type]
                                   dialect=self.dialect,
                                   connection_invalidated=self._conn.invalidated)
