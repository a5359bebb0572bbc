"""Ride out a restart of the queue's store: capped backoff, one warning per outage, a bounded wait.

A worker whose database or Redis server goes away (a restart, a failover) keeps its
process: each failed round of the loop waits a little longer (0.5 s doubling to 5 s)
and tries again. The first failure of an outage logs one warning and the first success
after it one "reachable again" line; the heartbeat thread reports into the same notice,
so an outage is two lines however many calls fail. A store still unreachable after
QUEUE_RECONNECT_TIMEOUT seconds (default 60; 0 waits for ever) ends the worker with
one error line and exit status 1, for a supervisor to restart it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.Queue.errors import ConnectionUnavailableError

log = logging.getLogger("queue.worker")

FIRST_DELAY = 0.5
MAX_DELAY = 5.0
DEFAULT_LIMIT = 60.0

# MySQL/MariaDB client and server codes that mean "the server went away", not "the query is wrong":
# 2002/2003 cannot connect, 2006 gone away, 2013 lost connection, 2055 lost at handshake,
# 1053 server shutdown in progress, 1927 connection killed, 4031 disconnected for inactivity.
_MYSQL_GONE = {2002, 2003, 2006, 2013, 2055, 1053, 1927, 4031}


def is_store_outage(exc: BaseException) -> bool:
    """Tell whether `exc` means the store cannot be reached right now (worth waiting out)."""
    if isinstance(exc, ConnectionUnavailableError):
        return "access denied" not in str(exc).lower()
    try:
        import redis

        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)) and not isinstance(exc, redis.AuthenticationError):
            return True
        if isinstance(exc, redis.ResponseError) and str(exc).startswith(("LOADING", "MASTERDOWN", "TRYAGAIN")):
            return True
    except ImportError:  # pragma: no cover - redis is a pinned dependency
        pass
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
        return bool(args) and args[0] in _MYSQL_GONE
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_store_outage(cause)


class OutageNotice:
    """Track one outage at a time across threads, so it is logged once when it starts and once when it ends."""

    def __init__(self, limit: float = DEFAULT_LIMIT, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._failures = 0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, give_up: bool = True) -> float:
        """Record a failed call; returns the seconds to wait before the next try.

        Raises ConnectionUnavailableError once the outage has lasted longer than the limit
        (unless `give_up` is False: the heartbeat thread only reports, the loop decides).
        """
        with self._lock:
            t = self._clock()
            if self._since is None:
                self._since, self._failures = t, 0
                self.outages += 1
                log.warning("the queue store is unreachable (%s); %s", _first_line(exc), _limit_text(self.limit))
            self._failures += 1
            elapsed = t - self._since
            if give_up and self.limit > 0 and elapsed >= self.limit:
                raise ConnectionUnavailableError(
                    f"the queue store was unreachable for {elapsed:.0f} s (QUEUE_RECONNECT_TIMEOUT={self.limit:g}); "
                    f"the worker stopped: {_first_line(exc)}") from exc
            return float(min(MAX_DELAY, FIRST_DELAY * 2.0 ** (self._failures - 1)))

    def succeeded(self) -> None:
        """Record a successful call: ends the outage, if one was going on."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            elapsed, self._since = self._clock() - self._since, None
        log.warning("the queue store is reachable again after %.1f s; carrying on", elapsed)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _limit_text(limit: float) -> str:
    if limit > 0:
        return f"retrying for up to {limit:g} s (QUEUE_RECONNECT_TIMEOUT)"
    return "retrying until it is back (QUEUE_RECONNECT_TIMEOUT=0)"


def log_failure(logger: logging.Logger, message: str, exc: BaseException, *args: object) -> None:
    """Log a failure of background bookkeeping: a traceback for a bug, one quiet line for an outage.

    During an outage every background loop (lease renewal, status flush, worker heartbeat)
    fails each beat; the worker's loop already says so once, so these go to DEBUG.
    """
    if is_store_outage(exc):
        logger.debug(message + " (store unreachable: %s)", *args, _first_line(exc))
    else:
        logger.error(message, *args, exc_info=exc)
