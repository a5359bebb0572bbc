"""SteadyTimeoutSocket: PyMySQL's per-packet settimeout reaches the socket only when the timeout changes."""
from __future__ import annotations

import socket

from app.Queue.Database.steady_socket import SteadyTimeoutSocket, steady_timeouts


class CountingSocket(socket.socket):
    """A real socket that counts settimeout calls."""

    calls = 0

    def settimeout(self, value):  # type: ignore[no-untyped-def]
        self.calls += 1
        super().settimeout(value)


def _pair() -> tuple[CountingSocket, socket.socket]:
    left, right = socket.socketpair()
    counting = CountingSocket(left.family, left.type, fileno=left.detach())
    return counting, right


def test_unchanged_timeouts_are_not_sent_and_changes_are():
    sock, other = _pair()
    try:
        steady = SteadyTimeoutSocket(sock)
        for _ in range(50):
            steady.settimeout(None)  # what PyMySQL does before every read and write by default
        assert sock.calls == 0 and sock.gettimeout() is None
        steady.settimeout(2.5)
        steady.settimeout(2.5)
        assert sock.calls == 1 and sock.gettimeout() == 2.5 and steady.gettimeout() == 2.5
        steady.settimeout(None)
        assert sock.calls == 2 and sock.gettimeout() is None
    finally:
        sock.close()
        other.close()


def test_everything_else_reaches_the_socket():
    sock, other = _pair()
    try:
        steady = SteadyTimeoutSocket(sock)
        steady.sendall(b"ping")
        assert other.recv(4) == b"ping"
        other.sendall(b"pong")
        assert steady.makefile("rb").read(4) == b"pong"
        assert steady.fileno() == sock.fileno() and bool(steady)
    finally:
        sock.close()
        other.close()


class _Connection:
    _sock: object = None


def test_steady_timeouts_wraps_a_socket_once_and_leaves_other_things_alone():
    sock, other = _pair()
    try:
        conn = _Connection()
        conn._sock = sock
        steady_timeouts(conn)
        wrapped = conn._sock
        assert isinstance(wrapped, SteadyTimeoutSocket)
        steady_timeouts(conn)
        assert conn._sock is wrapped  # not wrapped twice
        closed = _Connection()
        steady_timeouts(closed)
        assert closed._sock is None
    finally:
        sock.close()
        other.close()
