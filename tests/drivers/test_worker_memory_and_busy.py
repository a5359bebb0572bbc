"""Worker memory (RSS at each heartbeat) in heartbeats, the metrics API and queue:top; queue:monitor fires QueueBusy."""
from __future__ import annotations

from cleo.testers.command_tester import CommandTester

from app.Console.Commands.QueueMonitor import QueueMonitorCommand
from app.Console.Support.top import render_frame
from app.Queue.events import QueueBusy
from app.Queue.QueueEvents import Queue
from app.Queue.Worker import Worker, rss_mb
from app.Queue.WorkerOptions import WorkerOptions
from app.Queue.WorkerRegistry import WorkerState
from tests.conftest import read_lines
from tests.drivers.conftest import Backend
from tests.fixtures.jobs import NoopJob
from tests.fixtures.parity_jobs import MemoryProbeJob


def test_heartbeat_carries_rss_and_the_metrics_api_reads_it(backend: Backend, witness):
    MemoryProbeJob(witness).on_connection(backend.connection).dispatch()
    Worker(backend.manager, WorkerOptions(stop_when_empty=True, sleep=0)).daemon(backend.connection, ["default"])
    (line,) = read_lines(witness)
    _, memory, _, peak = line.split()
    assert 5 < float(memory) <= float(peak) and abs(float(memory) - rss_mb()) < 200


def test_record_tracks_the_peak():
    state = WorkerState("w1", "default", "database", ("default",), 0.0)
    first = state.record()
    assert first["memory_mb"] > 0 and first["peak_memory_mb"] == first["memory_mb"]
    state.peak_memory_mb = 1e6
    assert state.record()["peak_memory_mb"] == 1e6


def test_queue_top_shows_memory():
    worker = {"id": "default@host:1", "pid": 1, "connection": "database", "queues": ["default"], "processed": 3,
              "failed": 0, "last_seen": 0.0, "current": None, "memory_mb": 87.25}
    lines = render_frame("database", [], [worker])
    header = next(line for line in lines if line.startswith("WORKER "))
    row = next(line for line in lines if line.startswith("default@host:1"))
    assert "MEM MB" in header and row.split()[5] == "87.2"


def test_queue_monitor_fires_queue_busy_over_a_threshold(backend: Backend):
    busy: list[QueueBusy] = []
    Queue.busy(busy.append)
    for _ in range(2):
        NoopJob().on_connection(backend.connection).dispatch()
    tester = CommandTester(QueueMonitorCommand())
    assert tester.execute(f"{backend.connection}:default:5") == 0
    assert busy == []
    assert tester.execute(f"{backend.connection}:default:1") == 1
    assert busy == [QueueBusy(backend.connection, "default", 2, 1)]
