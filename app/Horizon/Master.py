"""The master process of `python artisan horizon`: runs the supervisors, heartbeats, and obeys commands.

Each loop turn (a fraction of the heartbeat) it balances and heals every supervisor's pools;
each heartbeat it publishes its record to the store and reads the commands sent to it
(horizon:pause / continue / terminate, from any host). Signals do the same locally:
SIGTERM and SIGINT terminate, SIGUSR2 pauses, SIGCONT continues (Horizon's signals).
Terminating is graceful: workers get SIGTERM, finish their current job, and the master
exits 0 once the last one has gone.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from app.Horizon.HorizonConfig import HorizonConfig, SupervisorOptions
from app.Horizon.HorizonState import HorizonState, record_ttl
from app.Horizon.QueueLoads import measure
from app.Horizon.Supervisor import Supervisor
from app.Horizon.WorkerProcess import WorkerProcess
from app.Queue.errors import QueueError
from app.Queue.QueueManager import QueueManager
from app.Queue.Support.time import now
from app.Queue.Worker import rss_mb
from config.env import BASE_DIR

log = logging.getLogger("horizon")

ARTISAN = Path(__file__).resolve().parents[2] / "artisan"
# pip-installed, there is no artisan file beside the code: run the same entry point through -c.
ARTISAN_CMD = [str(ARTISAN)] if ARTISAN.is_file() else ["-c", "from app.Console.kernel import main; raise SystemExit(main())"]
MEMORY_EXIT = 12
WAIT_CHECK_EVERY = 10.0  # seconds between long-wait checks


def default_name() -> str:
    """The master's name: this host's name (Horizon names masters after their host)."""
    return socket.gethostname()


class Master:
    """Supervisors of one environment under one master name."""

    def __init__(self, qm: QueueManager, config: HorizonConfig, name: str | None = None) -> None:
        self.qm = qm
        self.config = config
        self.name = name or default_name()
        self.host = socket.gethostname()
        self.state = HorizonState(qm.cache)
        self.ttl = record_ttl(config.heartbeat)
        self.supervisors = [Supervisor(options, self._spawn, self._loads) for options in config.supervisors]
        self.paused = False
        self.terminating = False
        self.exit_status = 0
        self.started_at = now()
        self._token = ""
        self._wake = threading.Event()
        self._signalled: list[str] = []
        self._last_wait_check = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------
    def run(self) -> int:
        """Claim the name, then supervise until terminated; returns the exit status."""
        self._token = self.state.claim(self.name, self.host, os.getpid(), self.ttl)
        try:
            self.state.heartbeat(self.record(), self._token, self.ttl)
            self.state.join(self.name)
            self._listen_for_signals()
            log.info("master %s started (pid %d, %s)", self.name, os.getpid(),
                     ", ".join(f"{s.name}: {','.join(s.queues)} on {s.connection}, {s.balance}" for s in self.config.supervisors))
            self._loop()
        finally:
            for supervisor in self.supervisors:
                supervisor.terminate()  # a crash of the master itself still stops its workers gracefully
            self.state.leave(self.name, self._token)
        log.info("master %s stopped", self.name)
        return self.exit_status

    def _loop(self) -> None:
        step = min(0.5, self.config.heartbeat / 2)
        next_beat = 0.0
        while True:
            self._handle_signals()
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.config.heartbeat
                self._read_commands()
                self._check_memory()
                self._beat()
            if self.terminating:
                alive = sum(s.alive() for s in self.supervisors)
                if alive == 0 or self.config.fast_termination:
                    return
            else:
                for supervisor in self.supervisors:
                    supervisor.tick()
                self._check_waits()
            self._wake.wait(step)
            self._wake.clear()

    def _beat(self) -> None:
        try:
            self.state.heartbeat(self.record(), self._token, self.ttl)
        except QueueError as exc:  # the store is down: keep the workers going, say so
            log.warning("cannot write the heartbeat: %s", exc)

    def record(self) -> dict[str, Any]:
        """The master as horizon:list and the dashboard show it."""
        status = "terminating" if self.terminating else "paused" if self.paused else "running"
        return {
            "name": self.name, "host": self.host, "pid": os.getpid(), "status": status,
            "environment": self.config.environment, "started_at": self.started_at,
            "supervisors": [s.record() for s in self.supervisors],
        }

    # -- commands ---------------------------------------------------------------------------
    def _read_commands(self) -> None:
        try:
            pause, terminate = self.state.commands(self.name)
        except QueueError as exc:
            log.warning("cannot read commands: %s", exc)
            return
        if terminate:
            self.terminate("horizon:terminate")
        elif pause and not self.paused:
            self.pause()
        elif not pause and self.paused:
            self.resume()

    def pause(self) -> None:
        """Workers stop taking jobs (running ones finish); pools are not scaled while paused."""
        self.paused = True
        for supervisor in self.supervisors:
            supervisor.pause()
        log.info("master %s paused", self.name)
        self._beat()

    def resume(self) -> None:
        self.paused = False
        for supervisor in self.supervisors:
            supervisor.resume()
        log.info("master %s continues", self.name)
        self._beat()

    def terminate(self, why: str, status: int = 0) -> None:
        """Stop every worker gracefully, then leave the loop once they have gone."""
        if self.terminating:
            return
        self.terminating = True
        self.exit_status = status
        log.info("master %s terminating (%s); waiting for running jobs", self.name, why)
        for supervisor in self.supervisors:
            supervisor.terminate()
        self._beat()

    def _check_memory(self) -> None:
        limit = self.config.memory_limit
        if limit > 0 and not self.terminating and rss_mb() > limit:
            log.warning("master %s uses more than memory_limit (%d MB); terminating with status %d so "
                        "the service manager restarts it", self.name, limit, MEMORY_EXIT)
            self.terminate("memory_limit", MEMORY_EXIT)

    def _check_waits(self) -> None:
        """Warn when a queue's estimated wait passes its `waits` threshold (`connection:queue`)."""
        if not self.config.waits or time.monotonic() - self._last_wait_check < WAIT_CHECK_EVERY:
            return
        self._last_wait_check = time.monotonic()
        for supervisor in self.supervisors:
            o = supervisor.options
            loads = self._loads(o.connection, o.queues)
            for queue, load in loads.items():
                limit = self.config.waits.get(f"{o.connection}:{queue}")
                processes = max(1, sum(p.count() for p in supervisor.pools.values() if queue in p.queues))
                wait = load.pending * (load.runtime or 0) / processes
                if limit and wait > limit:
                    log.warning("long wait on %s:%s: about %.0fs to clear (waits: %gs)", o.connection, queue, wait, limit)

    # -- signals ----------------------------------------------------------------------------
    def _listen_for_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on(name: str) -> Any:
            def handler(signum: int, frame: Any) -> None:
                self._signalled.append(name)
                self._wake.set()
            return handler

        signal.signal(signal.SIGTERM, on("terminate"))
        signal.signal(signal.SIGINT, on("terminate"))
        signal.signal(signal.SIGUSR2, on("pause"))
        signal.signal(signal.SIGCONT, on("continue"))

    def _handle_signals(self) -> None:
        while self._signalled:
            what = self._signalled.pop(0)
            if what == "terminate":
                self.terminate("signal")
            elif what in ("pause", "continue"):
                self._send_to_self(what)

    def _send_to_self(self, command: str) -> None:
        """A local signal goes through the store like horizon:pause/continue, so the store's flag stays the truth."""
        try:
            self.state.send(command, [self.name])
        except QueueError as exc:
            log.warning("cannot record %s: %s", command, exc)
        if command == "pause" and not self.paused:
            self.pause()
        elif command == "continue" and self.paused:
            self.resume()

    # -- collaborators ------------------------------------------------------------------------
    def _spawn(self, options: SupervisorOptions, queues: tuple[str, ...]) -> WorkerProcess:
        argv = [sys.executable, *ARTISAN_CMD, "queue:work", *options.worker_arguments(queues)]
        return WorkerProcess(argv, BASE_DIR, dict(os.environ), options.nice)

    def _loads(self, connection: str, queues: tuple[str, ...]) -> Any:
        return measure(self.qm, connection, queues)
