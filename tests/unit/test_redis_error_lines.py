"""A redis-py error becomes one short line: Sentinel's 'no master' error carries the repr of every client it
tried (kilobytes of pool settings); the line keeps the reason and names the server, nothing more."""
from __future__ import annotations

import redis
from redis.sentinel import MasterNotFoundError

from app.Queue.errors import ConnectionUnavailableError
from app.Queue.Redis.errors import REASON_MAX, translate

CONFIG = {"host": "127.0.0.1", "port": 6390}


def test_sentinels_client_reprs_are_cut_from_the_reason():
    clients = ", ".join(f"<redis.client.Redis(<redis.connection.ConnectionPool({'x' * 900})>)> - network:ConnectionError"
                        for _ in range(3))
    error = translate(MasterNotFoundError(f"No master found for 'queuemaster' : {clients}"), CONFIG)
    assert isinstance(error, ConnectionUnavailableError)
    text = str(error)
    assert "No master found for 'queuemaster'" in text and "<redis." not in text and "\n" not in text
    assert len(text) < REASON_MAX + 200


def test_a_long_or_multiline_reason_is_one_bounded_line():
    error = translate(redis.ConnectionError("first line " + "y" * 5000 + "\nsecond line"), CONFIG)
    text = str(error)
    assert "second line" not in text and "\n" not in text and "…" in text and "127.0.0.1:6390" in text


def test_the_connection_refused_reason_is_kept_whole():
    error = translate(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused."), CONFIG)
    assert str(error).startswith("cannot connect to Redis at 127.0.0.1:6390: Connection refused;")
