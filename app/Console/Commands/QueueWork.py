"""queue:work: start a worker on one connection's queues."""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

from cleo.helpers import argument, option

from app.Console.Command import Command, UsageError
from app.Console.Support.seed_aliases import ALIAS_OPTIONS, connection_argument, tries_option
from app.Console.Support.untrusted import plain
from app.Queue.Concurrency import MAX_CONCURRENCY
from app.Queue.events import JobFailed, JobProcessed, JobProcessing, JobReleased
from app.Queue.QueueManager import manager
from app.Queue.Worker import Worker
from app.Queue.WorkerBootstrap import run_bootstrap
from app.Queue.WorkerOptions import WorkerOptions
from app.Queue.QueueWeights import parse_queue_list

MAX_PREFETCH = 1000  # one reservation call's reply stays small and its script short


class QueueWorkCommand(Command):
    name = "queue:work"
    description = "Process jobs from the queues, in strict priority order"
    arguments = [argument("connection", "The connection to work (default: QUEUE_CONNECTION)", optional=True)]
    options = [
        option("queue", None, "Comma-separated queues, highest priority first; name:weight shares fairly by weight "
               "(high:3,default:1)", flag=False, default=""),
        option("once", None, "Process only the next job, then exit"),
        option("stop-when-empty", None, "Exit when no job is available"),
        option("max-jobs", None, "Exit after this many jobs (0: no limit)", flag=False, default="0"),
        option("max-time", None, "Exit after this many seconds (0: no limit)", flag=False, default="0"),
        option("memory", None, "Exit when RSS passes this many MB", flag=False, default="128"),
        option("sleep", None, "Seconds to wait when no job is available", flag=False, default="3"),
        option("rest", None, "Seconds to rest between jobs", flag=False, default="0"),
        option("timeout", None, "Seconds a job may run (a job's own timeout wins)", flag=False, default="60"),
        option("tries", None, "Attempts before a job fails (a job's own max_tries wins; 0: unlimited)", flag=False, default="3"),
        option("backoff", None, "Seconds before a retry; a comma list gives one per attempt", flag=False, default="0"),
        option("name", None, "The worker's name (shown by monitoring)", flag=False, default="default"),
        option("prefetch", None, "Reserve this many jobs per round trip (batch mode, Redis and database drivers; "
               "1 = one at a time)", flag=False, default="1"),
        option("concurrency", None, "Jobs to run at once in this process: threads for `def handle`, one event loop "
               f"for `async def handle` (1-{MAX_CONCURRENCY})", flag=False, default="1"),
        option("permissions", None, "Comma-separated permissions granted to this worker", flag=False, default=""),
        *ALIAS_OPTIONS,
    ]

    def gather_options(self) -> WorkerOptions:
        """Convert the (string) options into WorkerOptions, rejecting bad values."""
        try:
            backoff = tuple(int(b) for b in self.list_option("backoff")) or (0,)
        except ValueError:
            raise UsageError(f"--backoff must be whole seconds, e.g. 10 or 1,5,30; got {self.option('backoff')!r}") from None
        if any(b < 0 for b in backoff):
            raise UsageError("--backoff must not be negative")
        permissions = tuple(self.list_option("permissions")) or tuple(manager().config.get("worker_permissions", ()))
        return WorkerOptions(
            name=str(self.option("name") or "default"),
            backoff=backoff,
            memory=self.int_option("memory", 128),
            timeout=self.float_option("timeout", 60),
            sleep=self.float_option("sleep", 3),
            rest=self.float_option("rest", 0),
            max_tries=self.int_option(tries_option(self), 3),
            stop_when_empty=bool(self.option("stop-when-empty")),
            max_jobs=self.int_option("max-jobs", 0),
            max_time=self.float_option("max-time", 0),
            once=bool(self.option("once")),
            permissions=permissions,
            prefetch=self._prefetch(),
            concurrency=self._concurrency(),
        )

    def _prefetch(self) -> int:
        value = self.int_option("prefetch", 1, minimum=1)
        if value > MAX_PREFETCH:
            raise UsageError(f"--prefetch must be at most {MAX_PREFETCH}; got {value}")
        return value

    def _concurrency(self) -> int:
        raw = str(self.option("concurrency") or "1").strip()
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if not 1 <= value <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency must be a whole number from 1 to {MAX_CONCURRENCY}; got {raw!r}")
        return value

    def run_command(self) -> int:
        options = self.gather_options()
        qm = manager()
        run_bootstrap(qm.config.get("bootstrap"))  # the host app's set-up (django.setup()), before any job class loads
        connection = connection_argument(self) or qm.default_connection
        config = qm.connection_config(connection)
        queues, weights = self._queues(str(config.get("queue", "default")))
        if weights:
            options = dataclasses.replace(options, queue_weights=tuple(weights.items()))
        qm.codec  # fail now on a missing or bad APP_KEY, not at the first job
        driver = qm.connection(connection)
        driver.sizes(queues[0])  # fail now on missing tables or an unreachable server
        qm.worker_permissions = options.permissions  # type: ignore[attr-defined]
        if not self.io.output.is_quiet():
            shown, where = plain(", ".join(queues), one_line=True), plain(connection, one_line=True)
            self.line(f"<info>Processing jobs</info> from [{shown}] on [{where}]. Stop with Ctrl-C.")
            self._echo_jobs()
        worker = Worker(qm, options)
        if options.once:
            worker.run_next_job(connection, queues)
            return 0
        return worker.daemon(connection, queues)

    def _queues(self, default: str) -> tuple[list[str], dict[str, int]]:
        """The --queue list (`high,default` strict order; `high:3,default:1` weighted fair sharing)."""
        try:
            return parse_queue_list(self.list_option("queue") or [default])
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def _echo_jobs(self) -> None:
        """Print a line per job event: green DONE, yellow RUNNING/RELEASED, red FAILED, with the run time."""
        events = manager().events
        started: dict[str, float] = {}

        def show(label: str, tag: str) -> Any:
            def write(event: Any) -> None:
                name = event.envelope.get("displayName", "?") if event.envelope else "?"
                job_id = event.envelope.get("uuid", "") if event.envelope else ""
                stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
                if label == "RUNNING":
                    started[job_id], took = time.monotonic(), ""
                else:
                    began = started.pop(job_id, None)
                    took = "" if began is None else f" {run_time(time.monotonic() - began)}"
                self.line(f"{stamp} <{tag}>{label:<10}</{tag}> {plain(name, one_line=True)} {plain(job_id, one_line=True)}{took}")
            return write

        events.listen(JobProcessing, show("RUNNING", "comment"))
        events.listen(JobProcessed, show("DONE", "info"))
        events.listen(JobReleased, show("RELEASED", "comment"))
        events.listen(JobFailed, show("FAILED", "error"))


def run_time(seconds: float) -> str:
    """Format a run time as Laravel's worker does: `12.34ms`, or `1.23s` from one second on."""
    return f"{seconds * 1000:.2f}ms" if seconds < 1 else f"{seconds:.2f}s"
