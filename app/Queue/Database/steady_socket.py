"""PyMySQL connections without a settimeout system call per packet.

PyMySQL sets the socket's timeout before every read and write (`_read_bytes`, `_write_bytes`),
even when it does not change: each is an ioctl. A claim's reply is about a dozen packets, each
read as a header and a body, so ~25 such calls per job, most of them for bytes already in the
reader's buffer. `steady_timeouts` puts a thin stand-in in front of the connection's socket
whose `settimeout` only reaches the socket when the value changes; everything else goes
straight to the socket. PyMySQL itself is not patched: a connection it makes again (after
`ping(reconnect=True)`) simply goes back to its own socket.
"""
from __future__ import annotations

import socket
from typing import Any


class SteadyTimeoutSocket:
    """A socket whose settimeout is skipped when the timeout is unchanged (see module docstring)."""

    __slots__ = ("_socket", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._timeout = sock.gettimeout()

    def settimeout(self, timeout: float | None) -> None:
        """Set the socket's timeout only when it differs from the one already set."""
        if timeout != self._timeout:
            self._socket.settimeout(timeout)
            self._timeout = timeout

    def gettimeout(self) -> float | None:
        """The timeout in force."""
        return self._timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)


def steady_timeouts(dbapi_connection: Any) -> None:
    """Put a SteadyTimeoutSocket in front of a PyMySQL connection's socket (once; other connections untouched)."""
    sock = getattr(dbapi_connection, "_sock", None)
    if isinstance(sock, socket.socket):
        dbapi_connection._sock = SteadyTimeoutSocket(sock)
