"""OutageNotice: capped backoff, one warning when an outage starts and one when it ends, a bounded wait."""
from __future__ import annotations

import logging

import pytest

from app.Queue.errors import ConnectionUnavailableError, SerializationError
from app.Queue.StoreOutage import MAX_DELAY, OutageNotice, is_store_outage, log_failure


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_backoff_doubles_to_a_cap_and_the_outage_is_logged_once(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    notice = OutageNotice(limit=120, clock=clock)
    down = ConnectionUnavailableError("cannot connect to Redis at 127.0.0.1:1: Connection refused")
    with caplog.at_level(logging.WARNING, logger="queue.worker"):
        waits = []
        for _ in range(7):
            waits.append(notice.failed(down))
            clock.t += waits[-1]
        notice.succeeded()
        notice.succeeded()
    assert waits == [0.5, 1.0, 2.0, 4.0, MAX_DELAY, MAX_DELAY, MAX_DELAY]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and "unreachable" in messages[0] and "reachable again after 22.5 s" in messages[1]
    assert notice.outages == 1 and not notice.down


def test_the_worker_gives_up_after_the_limit_but_the_heartbeat_only_reports():
    clock = Clock()
    notice = OutageNotice(limit=10, clock=clock)
    down = ConnectionUnavailableError("cannot connect to the database")
    notice.failed(down)
    clock.t += 10
    assert notice.failed(down, give_up=False) == 1.0
    with pytest.raises(ConnectionUnavailableError, match=r"unreachable for 10 s \(QUEUE_RECONNECT_TIMEOUT=10\)"):
        notice.failed(down)


def test_limit_zero_waits_for_ever():
    clock = Clock()
    notice = OutageNotice(limit=0, clock=clock)
    notice.failed(ConnectionUnavailableError("down"))
    for _ in range(10):
        clock.t += 10**5
        assert notice.failed(ConnectionUnavailableError("down")) <= MAX_DELAY  # never raises


def test_what_counts_as_an_outage():
    import redis
    from sqlalchemy.exc import OperationalError

    class Orig(Exception):
        pass

    assert is_store_outage(ConnectionUnavailableError("cannot connect"))
    assert is_store_outage(redis.ConnectionError("Connection refused"))
    assert is_store_outage(redis.ResponseError("LOADING Redis is loading the dataset in memory"))
    assert is_store_outage(OperationalError("SELECT 1", {}, Orig(2013, "Lost connection")))
    assert not is_store_outage(OperationalError("SELECT 1", {}, Orig(1064, "syntax error")))
    assert not is_store_outage(ConnectionUnavailableError("Access denied for user 'queue'"))
    assert not is_store_outage(redis.AuthenticationError("invalid password"))
    assert not is_store_outage(SerializationError("bad attribute"))
    wrapped = RuntimeError("listener failed")
    wrapped.__cause__ = redis.TimeoutError("Timeout reading from socket")
    assert is_store_outage(wrapped)


def test_background_failures_log_a_traceback_only_for_bugs(caplog: pytest.LogCaptureFixture):
    log = logging.getLogger("queue.test")
    with caplog.at_level(logging.DEBUG, logger="queue.test"):
        log_failure(log, "could not write %s", ConnectionUnavailableError("cannot connect"), "statuses")
        log_failure(log, "could not write %s", KeyError("bug"), "statuses")
    outage, bug = caplog.records
    assert outage.levelno == logging.DEBUG and outage.exc_info is None
    assert bug.levelno == logging.ERROR and bug.exc_info is not None
