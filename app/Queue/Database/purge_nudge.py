"""Wake MariaDB's InnoDB purge every few tenths of a second while a worker claims (DB_PURGE_NUDGE).

Every acked job leaves a delete-marked entry at the head of the claim index until purge removes
it, and each claim walks past all of them (~0.5-0.7 us each). MariaDB 10.6+ wakes purge about once
a second (its master task), so at 1,000 jobs/s the head holds ~500 such entries on average and
the walk cost the server more than any statement of the claim (~250 us of ~700 us per job).
Nothing in the server's settings shortens that interval; `SET GLOBAL innodb_max_purge_lag_wait = 0`
(the documented way to wait for purge) wakes it at once and then every 100 ms while history is
left. Each worker process runs that from one thread on its own connection, every INTERVAL
seconds, the wait capped by the session's max_statement_time so it never holds on for long,
and only until IDLE_AFTER seconds after the process's last claim: an idle worker sends nothing.

It needs the SUPER privilege; a server that refuses (or a MySQL, which has no such variable)
turns nudging off for the process with one INFO line, and claims go on as before.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger("queue.database")

INTERVAL = 0.1  # seconds between nudges
WAIT_CAP = 0.15  # seconds one nudge may wait for purge (max_statement_time): one wake, then 100 ms, then one more
IDLE_AFTER = 2.0  # seconds after the last claim that nudging goes on (the last acks' history is purged by then)
RECONNECT_PAUSE = 2.0  # seconds before reconnecting after the connection was lost
NUDGE = "SET GLOBAL innodb_max_purge_lag_wait = 0"
STATEMENT_TIMEOUT = 1969  # ER_STATEMENT_TIMEOUT: the capped wait ended, purge was woken
REFUSALS = (1227, 1193, 1238, 1044, 1045)  # no SUPER, unknown variable, read-only variable, access denied


class PurgeNudge:
    """One daemon thread per process that keeps waking InnoDB purge on a MariaDB server (see module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.nudges = 0  # nudges sent (tests, monitoring)
        self.off_reason: str | None = None  # why nudging stopped for good, once it did
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._reached = False  # connected once: a later connect failure is a restart to wait out
        self._claimed_at = 0.0  # monotonic time of the last claim: an idle worker sends nothing

    def ensure_started(self) -> None:
        """Note a claim, and start the thread in this process unless it runs already (cheap: called before each claim)."""
        self._claimed_at = time.monotonic()
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name="queue-purge-nudge", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread is alive in this process."""
        thread = self._thread
        return self._pid == os.getpid() and thread is not None and thread.is_alive()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread (it ends within WAIT_CAP + INTERVAL seconds) and close its connection."""
        self._stop.set()
        thread = self._thread
        if thread is not None and self._pid == os.getpid() and thread is not threading.current_thread():
            thread.join(timeout)
        self._pid = None

    def _run(self, stop: threading.Event) -> None:
        conn: Any = None
        try:
            while not stop.is_set():
                if time.monotonic() - self._claimed_at > IDLE_AFTER:  # no claims, no acks: nothing to purge
                    stop.wait(INTERVAL)
                    continue
                if conn is None:
                    conn = self._connect()
                    if conn is None:
                        if not self._reached:
                            return
                        stop.wait(RECONNECT_PAUSE)
                        continue
                try:
                    with conn.cursor() as cur:
                        cur.execute(NUDGE)
                    self.nudges += 1
                except self.engine.dialect.loaded_dbapi.Error as exc:
                    code = exc.args[0] if exc.args else None
                    if code == STATEMENT_TIMEOUT:
                        self.nudges += 1
                    elif code in REFUSALS:
                        self._turn_off(f"the server refused it ({exc.args[1] if len(exc.args) > 1 else code})")
                        return
                    else:  # the connection was lost (a restart): try again on a fresh one
                        _close(conn)
                        conn = None
                        stop.wait(RECONNECT_PAUSE)
                        continue
                stop.wait(INTERVAL)
        except Exception as exc:  # never let the thread die loudly: nudging is an optimisation
            self._turn_off(f"{type(exc).__name__}: {exc}")
        finally:
            _close(conn)

    def _connect(self) -> Any:
        """A connection of its own (not the pool's: its session limit must not reach other users), or None."""
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        try:
            conn = dialect.loaded_dbapi.connect(*cargs, **cparams)
        except dialect.loaded_dbapi.Error as exc:
            if not self._reached:
                self._turn_off(f"cannot connect ({exc})")
            return None
        if "mariadb" not in str(conn.get_server_info()).lower():
            _close(conn)
            self._turn_off("not a MariaDB server")
            return None
        with conn.cursor() as cur:
            cur.execute(f"SET SESSION max_statement_time = {WAIT_CAP}")
        self._reached = True
        return conn

    def _turn_off(self, reason: str) -> None:
        self.off_reason = reason
        log.info("not waking InnoDB purge between claims (DB_PURGE_NUDGE): %s", reason)


def _close(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass
