"""JobProcessed listeners that only buffer (registered with after_ack=True) run once the job's ack is
sent -- on Redis while the ack+claim's reply is on its way -- and still before the next job starts;
every other listener (a user's, the replay guard's, batches', chains', unique locks') runs before the
ack. A reply lost with the connection is handled as a failed ack: no job lost, none run twice.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from app.Queue.events import JobProcessed
from app.Queue.Worker import Worker
from app.Queue.WorkerOptions import WorkerOptions
from config import env as env_mod
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import RecordJob, record
from tests.servers_redis import RedisServer

JOBS = 4


def _total(backend: Backend) -> int:
    sizes = backend.driver().sizes("default")
    return sizes.pending + sizes.delayed + sizes.reserved


def _run(backend: Backend, prefetch: int = 0) -> None:
    Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0, prefetch=prefetch)).daemon(backend.connection, ["default"])


def _dispatch(witness: Path, count: int = JOBS) -> list[str]:
    return [str(RecordJob(str(witness), f"j{i}").dispatch()) for i in range(count)]


def _listen(backend: Backend, before: Callable[[JobProcessed], None], after: Callable[[JobProcessed], None]) -> None:
    backend.manager.events.listen(JobProcessed, before)  # a user's listener: before the ack
    backend.manager.events.listen(JobProcessed, after, after_ack=True)


@pytest.mark.parametrize("prefetch", [0, 3], ids=["default", "prefetch"])
def test_a_user_listener_runs_before_the_ack_and_buffering_ones_after_it_before_the_next_job(
        backend: Backend, witness: Path, prefetch: int):
    ids = _dispatch(witness)

    def before(event: JobProcessed) -> None:  # the job is still in the queue: not acked yet
        record(witness, f"before {event.job.job_id} {_total(backend)}")

    def after(event: JobProcessed) -> None:
        if prefetch:  # the ack rides on the next job's start: nothing to see in the store yet
            record(witness, f"after {event.job.job_id}")
            return
        left = _total(backend)
        for _ in range(500):  # sent, maybe not applied yet (Redis: its reply is still on its way)
            if left == JOBS - ids.index(str(event.job.job_id)) - 1:
                break
            time.sleep(0.01)
            left = _total(backend)
        record(witness, f"after {event.job.job_id} {left}")

    _listen(backend, before, after)
    _run(backend, prefetch)
    lines = read_lines(witness)
    expected: list[str] = []
    for i, uuid in enumerate(ids):
        expected += [f"j{i} {uuid} 1", f"before {uuid} {JOBS - i}"]
        expected.append(f"after {uuid}" if prefetch else f"after {uuid} {JOBS - i - 1}")
    assert lines == expected  # each job: ran, user listener (unacked), buffering listener (acked), then the next job
    assert _total(backend) == 0


def test_a_failing_after_ack_listener_is_logged_and_its_job_stays_done(
        backend: Backend, witness: Path, caplog: pytest.LogCaptureFixture):
    ids = _dispatch(witness, 2)

    def after(event: JobProcessed) -> None:
        raise RuntimeError("metrics buffer broke")

    _listen(backend, lambda event: None, after)
    with caplog.at_level(logging.ERROR, logger="queue.worker"):
        _run(backend)
    assert read_lines(witness) == [f"j0 {ids[0]} 1", f"j1 {ids[1]} 1"]  # both ran once; the worker went on
    assert _total(backend) == 0  # acked all the same
    assert sum("failed after its ack" in r.getMessage() for r in caplog.records) == 2


def test_a_failing_user_listener_still_leaves_its_job_reserved(backend: Backend, witness: Path):
    ids = _dispatch(witness, 1)
    after_ran: list[str] = []

    def before(event: JobProcessed) -> None:
        raise RuntimeError("user bookkeeping failed")

    _listen(backend, before, lambda event: after_ran.append(str(event.job.job_id)))
    _run(backend)
    assert read_lines(witness) == [f"j0 {ids[0]} 1"]
    assert backend.driver().sizes("default").reserved == 1  # not acked: it runs again after its lease
    assert after_ran == []  # the buffering listeners see only jobs that are acked


def test_the_buffering_built_in_listeners_are_the_ones_that_run_after_the_ack(backend: Backend):
    events = backend.manager.events
    assert backend.manager.config is not None  # boots the built-in features
    later = {f.__qualname__ for f in events.after_ack[JobProcessed]}
    assert later == {"MetricsCollector.on_processed", "CompletedJobRecorder.on_processed",
                     "WorkerMonitor.on_job_processed", "JobLogListener.processed"} - _disabled(backend)
    before = {getattr(f, "__qualname__", "") for f in events.listeners[JobProcessed]} - later
    assert any("BatchRecorder" in q for q in before) and any("ChainRecorder" in q for q in before)
    assert any("on_done" in q for q in before)  # unique locks
    assert any("<lambda>" in q for q in before)  # the replay guard hands the ack its done marker


def _disabled(backend: Backend) -> set[str]:
    """Built-in buffering listeners not registered in this environment (metrics or completed recording off)."""
    off = set()
    if backend.manager.metrics is None:
        off.add("MetricsCollector.on_processed")
    if backend.manager.completed is None:
        off.add("CompletedJobRecorder.on_processed")
    return off


# -- a connection lost while the ack+claim's reply is pending (Redis) ---------------------------------------


class _LossyProxy:
    """A TCP proxy in front of Redis that cuts one client connection at its next command: before
    forwarding it ("request") or once the server has answered it ("reply")."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.cut_port: int | None = None
        self.cut_at = ""
        self.cut = threading.Event()
        self._sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_next(self, client_port: int, at: str) -> None:
        self.cut_at, self.cut_port = at, client_port

    def _accept(self) -> None:
        while True:
            try:
                client, (_, peer_port) = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, peer_port, "request"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, peer_port, "reply"), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, peer_port: int, side: str) -> None:
        try:
            while data := source.recv(65536):
                if self.cut_port == peer_port and self.cut_at == side:
                    self.cut_port = None
                    self.cut.set()
                    for s in (source, target):
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    return
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
@pytest.mark.parametrize("lost", ["request", "reply"])
def test_a_connection_lost_while_the_ack_reply_is_pending_loses_no_job_and_runs_none_twice(
        backend: Backend, witness: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, lost: str):
    proxy = _LossyProxy(redis_server.port)
    monkeypatch.setenv("REDIS_PORT", str(proxy.port))
    monkeypatch.setenv("QUEUE_RETRY_AFTER", "1")  # a claim whose reply was lost comes back soon
    env_mod.reload()
    backend.manager.reset()
    try:
        ids = _dispatch(witness)
        seen: dict[str, Any] = {}

        def before(event: JobProcessed) -> None:  # the last thing before the ack+claim goes out on the held connection
            if not seen:
                seen["held"] = backend.driver().held._conn._sock.getsockname()[1]
                proxy.cut_next(seen["held"], lost)

        def after(event: JobProcessed) -> None:  # runs while the reply is pending: the cut happens meanwhile
            if "left" not in seen:
                assert proxy.cut.wait(5)
                seen["left"] = _total(backend)

        _listen(backend, before, after)
        _run(backend)
        reserved = int(redis_server.client().zcard("queues:{default}:reserved"))
        if lost == "reply":  # the script ran: j0 acked, j1 claimed by it and orphaned until its lease ends
            assert seen["left"] == JOBS - 1 and reserved == 1
            time.sleep(1.2)
            _run(backend)
        else:  # the script never ran: j0 was still reserved, and acked by the call sent again
            assert seen["left"] == JOBS and reserved == 0
        runs = read_lines(witness)
        assert sorted(runs) == sorted(f"j{i} {uuid} {2 if lost == 'reply' and i == 1 else 1}" for i, uuid in enumerate(ids))
        assert _total(backend) == 0
    finally:
        backend.manager.reset()
        proxy.close()
