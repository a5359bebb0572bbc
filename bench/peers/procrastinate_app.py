"""The procrastinate side of bench/peers/vs_procrastinate.py: the same no-op and latency jobs as bench/jobs.py.

Imported only in the comparison's own environment (procrastinate is not a project dependency).
"""
from __future__ import annotations

import os
import socket
import time

import procrastinate

_sock: socket.socket | None = None
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("PROCRASTINATE_DSN", "")))


@app.task(queue="bench", name="noop")
def noop() -> None:
    """Do nothing: the figure is the queue's own cost."""


@app.task(queue="bench", name="latency")
def latency(sent: float, port: int) -> None:
    """Send dispatch→start seconds to the bench over UDP (as bench.jobs.LatencyJob does)."""
    global _sock
    elapsed = time.time() - sent
    if _sock is None:
        _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _sock.sendto(repr(elapsed).encode(), ("127.0.0.1", port))
