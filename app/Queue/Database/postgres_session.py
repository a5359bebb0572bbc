"""One autocommit psycopg connection held by the worker thread: single-statement claims and LISTEN.

In autocommit mode one statement is one transaction and one round trip (no BEGIN, no
COMMIT), which is why every hot-path statement of the PostgreSQL driver is written as a
single statement (data-modifying CTEs). The same connection LISTENs on the queues'
channels: a notification that arrives while a statement runs is noted by a handler, one
that arrives while the worker is idle wakes `wait()`. Other threads and processes' forks
run the same statements in a pooled transaction instead (and poll rather than LISTEN).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import select
import signal
import threading
from typing import Any, Mapping

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.Queue.Database.connection import retry_lock_errors, translate_errors

log = logging.getLogger("queue.database")

CHANNEL_PREFIX = "queue:"
MAX_CHANNEL_BYTES = 63  # PostgreSQL truncates identifiers longer than NAMEDATALEN - 1


def channel(queue: str) -> str:
    """The NOTIFY channel of `queue`: `queue:<name>`, or a digest of the name when that is too long."""
    name = CHANNEL_PREFIX + queue
    if len(name.encode()) <= MAX_CHANNEL_BYTES:
        return name
    return CHANNEL_PREFIX + hashlib.sha1(queue.encode()).hexdigest()


class PostgresSession:
    """Run single statements on the owner thread's autocommit connection, and wait for NOTIFYs on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._url = str(engine.url)
        self._owner: int | None = None  # the first thread to run a statement keeps the connection
        self._pid = os.getpid()
        self._conn: Any = None
        self._channels: list[str] = []
        self.notified = False  # a notification arrived since the last `take_notes()`
        self.interrupted = False  # a signal arrived during the last wait
        self._connects = 0
        self._wakeup: tuple[int, int] | None = None  # pipe that signals write to while we wait

    # -- statements ---------------------------------------------------------------------
    def run(self, sql: str, params: Mapping[str, Any]) -> Any:
        """Run one statement as its own transaction; its rows, or its rowcount when it returns none.

        A deadlock or serialization failure is rerun, and so is a statement whose connection
        died (the server restarted), once, on a new connection: each statement is atomic, so a
        rerun either repeats a statement that never ran or, if the first one committed before
        the connection died, claims anew (the lost claim's lease runs out) or writes the same
        values again.
        """
        return retry_lock_errors(lambda: self._attempt(sql, params))

    def _attempt(self, sql: str, params: Mapping[str, Any]) -> Any:
        with translate_errors(self._url):
            try:
                return self._once(sql, params)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                log.info("PostgreSQL connection was lost (%s); reconnecting", type(exc.orig).__name__)
                return self._once(sql, params)  # connecting waits out a restart (connection.py)

    def _once(self, sql: str, params: Mapping[str, Any]) -> Any:
        if not self.owns():
            with self.engine.begin() as conn:
                result = conn.exec_driver_sql(sql, dict(params))
                return result.fetchall() if result.returns_rows else result.rowcount
        return self._execute(self._connection(), sql, params)

    def _execute(self, conn: Any, sql: str, params: Mapping[str, Any]) -> Any:
        import psycopg

        try:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description is not None else cursor.rowcount
        except psycopg.Error as exc:
            lost = conn.closed or conn.broken
            if lost:
                self.close()
            raise DBAPIError.instance(sql, params, exc, psycopg.Error, connection_invalidated=lost,
                                      dialect=self.engine.dialect) from exc

    def owns(self) -> bool:
        """Tell whether the calling thread holds the connection (the first thread to use it does)."""
        if self._owner is None and os.getpid() == self._pid:
            self._owner = threading.get_ident()
        return threading.get_ident() == self._owner and os.getpid() == self._pid

    def _connection(self) -> Any:
        if self._conn is None:
            # Taken out of the pool for good (detached): it stays in autocommit, which a pooled
            # connection must not. Connecting goes through the engine, so it rides out restarts.
            outer = self.engine.connect()  # (SQLAlchemy wraps connect errors here, not in raw_connection)
            conn: Any = outer.connection.driver_connection
            outer.detach()
            try:
                conn.autocommit = True
                conn.add_notify_handler(self._on_notify)
                for name in self._channels:
                    self._execute(conn, _listen_sql(name), {})
            except Exception:
                conn.close()
                raise
            if self._channels and self._connects:
                self.notified = True  # notifications sent while we were not listening are lost: look again
            self._conn = conn
            self._connects += 1
        return self._conn

    # -- notifications ------------------------------------------------------------------
    def listen(self, names: list[str]) -> None:
        """LISTEN on these channels (once each; again after a reconnect)."""
        new = [n for n in names if n not in self._channels]
        if not new:
            return
        self._channels.extend(new)
        if self._conn is not None:
            with translate_errors(self._url):
                for name in new:
                    self._execute(self._conn, _listen_sql(name), {})

    def take_notes(self) -> None:
        """Forget the notifications heard so far (the caller is about to look at the table)."""
        self.notified = self.interrupted = False

    def wait(self, timeout: float) -> bool:
        """Block until a notification arrives (True) or `timeout` seconds pass (False).

        Returns at once when one arrived already, or when the connection is gone (the next
        statement reconnects). On the main thread a signal (SIGTERM to the worker) ends the
        wait too and sets `interrupted`, so a worker with a long --sleep stops promptly."""
        if self.notified:
            return True
        conn = self._conn
        if conn is None or timeout <= 0:
            return conn is None
        try:
            readable = self._select(conn.fileno(), timeout)
            if conn.fileno() in readable:
                pgconn = conn.pgconn
                pgconn.consume_input()
                while pgconn.notifies() is not None:
                    self.notified = True
        except Exception as exc:  # the connection died while we waited: reconnect on the next statement
            log.info("held PostgreSQL connection was lost while waiting: %s", exc)
            self.close()
            self.notified = True
        return self.notified

    def _select(self, fd: int, timeout: float) -> list[int]:
        """select() on the connection, and on a signal wake-up pipe when this is the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return select.select([fd], [], [], timeout)[0]
        if self._wakeup is None:
            self._wakeup = os.pipe()
            for end in self._wakeup:
                os.set_blocking(end, False)
        reader, writer = self._wakeup
        previous = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        try:
            readable = select.select([fd, reader], [], [], timeout)[0]
        finally:
            signal.set_wakeup_fd(previous)
        if reader in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(reader, 512)
            self.interrupted = True
        return readable

    def _on_notify(self, _note: Any) -> None:
        """Note a notification that arrived while a statement ran. Its payload (the job's
        available_at, for people watching with psql) is not read: the table is the truth."""
        self.notified = True

    def close(self) -> None:
        """Close the held connection (its LISTENs end with it)."""
        conn, self._conn = self._conn, None
        wakeup, self._wakeup = self._wakeup, None
        for end in wakeup or ():
            os.close(end)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already dead
                pass


def _listen_sql(name: str) -> str:
    """LISTEN on a channel; the name is quoted as an identifier (queue names may hold any character)."""
    return 'LISTEN "' + name.replace('"', '""') + '"'
