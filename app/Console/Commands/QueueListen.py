"""queue:listen: run each job in a fresh `queue:work --once` process, so code changes apply without a restart.

Like Laravel's queue:listen: slower than queue:work (a process start per job) but
handy while developing. The listener checks the queues itself and starts a child only
when a job is ready, so an idle listener costs one cheap query per --sleep. SIGTERM or
Ctrl-C lets the running child finish its job, then the listener exits 0.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Console.Support.seed_aliases import ALIAS_OPTIONS, connection_argument, tries_option
from app.Console.Support.untrusted import plain
from app.Queue.QueueManager import manager
from app.Queue.Worker import paused_key

ARTISAN = Path(__file__).resolve().parents[3] / "artisan"
# pip-installed, there is no artisan file beside the code: run the same entry point through -c.
ARTISAN_CMD = [str(ARTISAN)] if ARTISAN.is_file() else ["-c", "from app.Console.kernel import main; raise SystemExit(main())"]


class QueueListenCommand(Command):
    name = "queue:listen"
    description = "Process jobs, each in a new worker process (picks up code changes; slower than queue:work)"
    arguments = [argument("connection", "The connection to listen on (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Comma-separated queues, highest priority first", flag=False, default=""),
        option("sleep", None, "Seconds to wait when no job is ready", flag=False, default="3"),
        option("timeout", None, "Seconds a job may run", flag=False, default="60"),
        option("tries", None, "Attempts before a job fails (0: unlimited)", flag=False, default="3"),
        option("backoff", None, "Seconds before a retry (comma list: one per attempt)", flag=False, default="0"),
        option("memory", None, "Memory limit of each child in MB", flag=False, default="128"),
        option("max-jobs", None, "Exit after this many jobs (0: no limit)", flag=False, default="0"),
        option("max-time", None, "Exit after this many seconds (0: no limit)", flag=False, default="0"),
        option("stop-when-empty", None, "Exit when no job is ready"),
        *ALIAS_OPTIONS,
    ]

    def run_command(self) -> int:
        qm = manager()
        connection = connection_argument(self) or qm.default_connection
        queues = self.list_option("queue") or [str(qm.connection_config(connection).get("queue", "default"))]
        if any(":" in q for q in queues):  # one job per child process: there is no sequence to share fairly
            raise UsageError("queue:listen takes --queue in strict order; weights (high:3,default:1) need queue:work")
        sleep = self.float_option("sleep", 3)
        max_jobs, max_time = self.int_option("max-jobs", 0), self.float_option("max-time", 0)
        child_args = self._child_args(connection, queues)
        qm.connection(connection).sizes(queues[0])  # fail now on missing tables or an unreachable server
        stop = threading.Event()
        self._trap_signals(stop)
        shown, where = plain(", ".join(queues), one_line=True), plain(connection, one_line=True)
        self.line(f"<info>Listening</info> on [{shown}] of [{where}]; each job runs in a new process.")
        started, ran = time.monotonic(), 0
        while not stop.is_set():
            if max_time and time.monotonic() - started >= max_time:
                break
            if not self._job_ready(connection, queues):
                if self.option("stop-when-empty"):
                    break
                stop.wait(sleep)
                continue
            status = subprocess.call([sys.executable, *ARTISAN_CMD, *child_args], start_new_session=True)
            ran += 1
            if status not in (0, 130) and not stop.is_set():
                self.line_error(f"<comment>worker process exited with status {status}</comment>")
            if max_jobs and ran >= max_jobs:
                break
        return 0

    def _child_args(self, connection: str, queues: list[str]) -> list[str]:
        """Build `queue:work <connection> --once ...`, validating the numbers here rather than in every child."""
        tries = tries_option(self)
        self.int_option(tries, 0)
        for name in ("timeout", "memory"):
            self.float_option(name, 0, minimum=0)
        args = ["queue:work", connection, "--once", f"--queue={','.join(queues)}", f"--tries={self.option(tries)}"]
        for name in ("timeout", "backoff", "memory"):
            args.append(f"--{name}={self.option(name)}")
        if self.io.output.is_quiet():
            args.append("--quiet")
        return args

    @staticmethod
    def _job_ready(connection: str, queues: list[str]) -> bool:
        qm = manager()
        driver = qm.connection(connection)
        return any(driver.sizes(q).pending > 0 and qm.cache.get(paused_key(connection, q)) is None for q in queues)

    @staticmethod
    def _trap_signals(stop: threading.Event) -> None:
        """Let a child finish its job: it is in its own session, so Ctrl-C reaches only the listener."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _stop(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
