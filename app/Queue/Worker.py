"""The worker: take the next job from its JobSource, run it under a lease and a timeout, then ack, release or fail it.

Where jobs come from is one JobSource chosen at start (app/Queue/Reservations/); how an attempt
is settled is JobSettlement (app/Queue/JobSettlement.py); when to stop is StopConditions
(app/Queue/StopConditions.py). This file is the loop that ties them together.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Jobs.JobState import JobState
from app.Queue.AttemptHistory import exception_text
from app.Queue.contracts import JobSource, QueueDriver, ReservedJob
from app.Queue.errors import JobTimeoutError, MaxAttemptsExceededError
from app.Queue.events import JobProcessing, WorkerLooping, WorkerStarting, WorkerStopping
from app.Queue.Heartbeat import Heartbeat
from app.Queue.JobRunner import JobRunner
from app.Queue.JobSettlement import JobSettlement
from app.Queue.QueueWeights import WeightedOrder, weighted_order
from app.Queue.Reservations import OneAtATime, ack_then, source_for
from app.Queue.RetryPolicy import RetryPolicy
from app.Queue.StopConditions import FLAG_CHECK_INTERVAL, RESTART_KEY, StopConditions, paused_key, rss_mb
from app.Queue.Support import collector
from app.Queue.StoreOutage import DEFAULT_LIMIT, OutageNotice, is_store_outage
from app.Queue.WorkerOptions import StopReason, WorkerOptions
from app.Queue.WorkerSignals import WorkerSignals

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

__all__ = ["FLAG_CHECK_INTERVAL", "RESTART_KEY", "Worker", "exception_text", "paused_key", "rss_mb"]  # public paths
log = logging.getLogger("queue.worker")
_PROCESSING = JobState.PROCESSING  # per job: a global is cheaper to read than an enum member off its class


class Worker:
    """Process jobs from one connection's queues in strict priority order (or weighted, with --queue=a:3,b:1)."""

    def __init__(self, manager: QueueManager, options: WorkerOptions | None = None,
                 sleeper: Callable[[float], None] | None = None) -> None:
        self.manager = manager
        self.options = options or WorkerOptions()
        self.worker_id = f"{self.options.name}@{socket.gethostname()}:{os.getpid()}"
        self.runner = JobRunner(keep_alarm_handler=True)
        self.settlement = JobSettlement(manager, self.runner)
        self.stops = StopConditions(manager, self.options)
        self.heartbeat = Heartbeat(self._on_hard_timeout)
        self.source: JobSource | None = None  # chosen when the loop starts
        self.signals = WorkerSignals(sleeper)
        self.jobs_processed = 0
        self._current: tuple[ReservedJob, Job, dict[str, Any], RetryPolicy] | None = None
        self._store_reached = False
        self._fair: WeightedOrder | None = None  # the weighted order (None: strict order), built on first use
        self._fair_built = False
        self._gc_before: tuple[int, int, int] | None = None  # the collector's thresholds before the loop tuned them
        self.outage = OutageNotice(float(manager.config.get("reconnect_timeout", DEFAULT_LIMIT)))
        self.heartbeat.outage = self.outage

    def daemon(self, connection: str, queues: Sequence[str]) -> int:
        """Work until a stop condition; returns the process exit status."""
        if self.options.concurrency > 1:  # several jobs in flight: app/Queue/Concurrency
            from app.Queue.Concurrency import run_concurrently  # lazy: threads and an event loop only with --concurrency

            return run_concurrently(self, connection, queues)
        self.source = self._choose_source(self.manager.connection(connection), self.options.prefetch)
        self._start(connection, queues)
        while True:
            if self.manager.events.has_listeners(WorkerLooping):
                self.manager.events.dispatch(WorkerLooping(connection, tuple(queues)))
            active, job = self._next_job(connection, queues)
            if job is not None:
                self._run_job(connection, job, active)
            elif not active:
                self.signals.sleep(self.options.sleep)
            stop = self.stops.check(self.signals.should_quit, job is not None, self.jobs_processed)
            if stop is not None:
                return self._stop(*stop)
            if job is None and active and not self.source.waits:
                self.signals.sleep(self.options.sleep)
            elif job is not None and self.options.rest > 0:
                self.signals.sleep(self.options.rest)

    @property
    def should_quit(self) -> bool:
        """A stop was asked for (SIGTERM/SIGINT, or the worker's own decision): finish in-flight work, take no more."""
        return self.signals.should_quit

    @should_quit.setter
    def should_quit(self, value: bool) -> None:
        self.signals.should_quit = value

    def _choose_source(self, driver: QueueDriver, batch: int) -> JobSource:
        """The JobSource for this worker's life: batches under --prefetch, else one job at a time."""
        def budget(running: int, held: int) -> int:  # --prefetch, within what --max-jobs leaves
            return min(batch, self.options.max_jobs - self.jobs_processed - running) if self.options.max_jobs > 0 else batch

        return source_for(driver, self.worker_id, batch, budget, lambda: self.should_quit)

    def _start(self, connection: str, queues: Sequence[str], **started: Any) -> None:
        self._gc_before = collector.quiet()
        self.signals.listen()
        self.stops.start()
        self.manager.statuses.start_buffering()
        self.manager.events.dispatch(WorkerStarting(self.worker_id, self.options.name, connection, tuple(queues), **started))

    def _next_job(self, connection: str, queues: Sequence[str], wait: float | None = None) -> tuple[list[str], ReservedJob | None]:
        """Pick the active queues and take the next job from the source. A store that was reachable and
        then is not (a failover, a restart) is waited out with capped backoff for up to QUEUE_RECONNECT_TIMEOUT
        (app/Queue/StoreOutage.py); longer, or a store never reached, ends the worker with its one-line error."""
        assert self.source is not None
        try:
            active = self._active_queues(connection, queues)
            job = self.source.next_job(active, self.options.sleep if wait is None else wait) if active else None
        except Exception as exc:
            if not self._store_reached or self.signals.should_quit or not self._wait_out_outage(exc):
                raise
            return list(queues), None
        self._store_reached = True
        self.outage.succeeded()
        if job is not None and self.signals.held:  # horizon paused us while the source waited
            job.release(0, undo_attempt=True)
            return active, None
        return active, job

    def _wait_out_outage(self, exc: Exception) -> bool:
        """The store failed mid-loop: wait (capped backoff) if it is an outage, False if it is not.

        One warning when the outage starts and one when it ends (OutageNotice), whichever thread
        notices; a job in hand stays reserved and comes back when its lease ends (at-least-once).
        """
        if not is_store_outage(exc):
            return False
        self.signals.sleep(self.outage.failed(exc))  # raises past QUEUE_RECONNECT_TIMEOUT
        return True

    def run_next_job(self, connection: str, queues: Sequence[str]) -> bool:
        """Process one job if any is available (`--once`); True when one ran."""
        self.signals.listen()  # SIGTERM during the job lets it finish, as in daemon mode
        job = OneAtATime(self.manager.connection(connection), self.worker_id).next_job(list(queues), 0)
        if job is None:
            return False
        self.process(connection, job)
        return True

    def _run_job(self, connection: str, job: ReservedJob, queues: Sequence[str]) -> None:
        if self._fair is not None:
            self._fair.served(job.queue, queues)
            queues = self._fair.order(queues)  # a source that reserves the next job with this ack uses the new order
        try:
            self.process(connection, job, next_from=queues)
            self.jobs_processed += 1
            self.stops.job_ran()
        except Exception as exc:  # e.g. the ack during a failover: the job keeps its lease
            if not self._store_reached or not self._wait_out_outage(exc):
                raise

    def _stop(self, status: int, reason: StopReason) -> int:
        if self.source is not None:
            self.source.close()  # jobs reserved but never started go back unused; owed acks are sent
        self.heartbeat.stop()
        self.runner.close()
        self.manager.statuses.stop_buffering()
        self.manager.events.dispatch(WorkerStopping(status, str(reason)))
        log.info("worker %s stopping: %s", self.worker_id, reason)
        if self._gc_before is not None:
            collector.restore(self._gc_before)
        return status

    # -- one job --------------------------------------------------------------------------
    def process(self, connection: str, reserved: ReservedJob, next_from: Sequence[str] = ()) -> None:
        """Decode, guard, run and settle one reserved job; never lets a job's error escape.

        `next_from`: the queues the next job will come from (the source may reserve it with this job's ack).
        """
        started = time.monotonic()
        try:
            codec = self.manager.codec
            envelope = codec.parse(reserved.payload)
            job = codec.restore(envelope)
            job.attempts = reserved.attempts  # before the policy: a backoff() method may read it
            policy = RetryPolicy.resolve(envelope, self.options, self.manager.max_attempts(reserved.queue, reserved.connection_name), job)
        except Exception as exc:  # poison: record it and go on to the next job
            self.settlement.refuse(reserved, exc)
            return
        if self.settlement.replayed(reserved, job):
            return
        why = policy.already_exceeded(reserved.attempts)
        if why:
            self.settlement.fail(reserved, job, envelope, MaxAttemptsExceededError(f"{type(job).__name__} {why}"), started)
            return
        wait = self.settlement.gate_delay(job, envelope)
        if wait is not None:
            reserved.release(wait, undo_attempt=True)
            return
        self._run_attempt(reserved, job, envelope, policy, started, next_from)

    def _run_attempt(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                     started: float, next_from: Sequence[str]) -> None:
        self.manager.statuses.mark(job.job_id or "", _PROCESSING, reserved.attempts)
        self.manager.events.dispatch(JobProcessing(job, envelope, reserved.attempts))
        self._current = (reserved, job, envelope, policy)
        hard = started + policy.timeout + self.options.hard_timeout_grace if policy.timeout > 0 else None
        self.heartbeat.watch(reserved, hard)
        try:
            result = self.runner.run(job, policy.timeout or None)
        except Exception as exc:
            self.heartbeat.clear()
            if self.settlement.raised(reserved, job, envelope, policy, exc, started):
                self._ack(reserved, ())
        except BaseException:
            self.heartbeat.clear()
            reserved.release(0)  # SystemExit/KeyboardInterrupt from job code: hand the job back, then stop
            raise
        else:
            self.heartbeat.clear()
            processed = self.settlement.completed_before_ack(reserved, job, envelope, started, result)
            if processed is not None:  # the listeners that only buffer run while the ack is on its way
                self._ack(reserved, next_from, partial(self.settlement.after_ack, processed))
        finally:
            self._current = None

    def _ack(self, reserved: ReservedJob, next_from: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Ack through the source; it may reserve the next job with the ack unless the worker is about to stop.
        `meanwhile` runs once the ack is sent, before the next job (while its reply is on its way, where it can)."""
        if self.source is None:  # process() called outside the loop
            ack_then(reserved, meanwhile)
        else:
            self.source.finished(reserved, () if self.signals.should_quit or self.options.once else next_from, meanwhile)

    def _on_hard_timeout(self, reserved: ReservedJob) -> None:
        """The job ignored its soft timeout: settle it from the heartbeat thread, then the process exits."""
        current = self._current
        if current is None or current[0] is not reserved:
            return
        _, job, envelope, policy = current
        exc = JobTimeoutError(f"{type(job).__name__} timed out after {policy.timeout:g} s and did not stop; the worker exited")
        log.error("%s", exc)
        self.settlement.timed_out(reserved, job, envelope, policy, exc)

    # -- queues -------------------------------------------------------------
    def _active_queues(self, connection: str, queues: Sequence[str]) -> list[str]:
        """The queues to take a job from now: none while horizon holds us, else the unpaused ones, in weighted order."""
        if self.signals.held:
            return []
        active = self.stops.unpaused(connection, queues)
        if not self._fair_built:
            self._fair, self._fair_built = weighted_order(queues, dict(self.options.queue_weights), self.manager.definitions), True
        return self._fair.order(active) if self._fair is not None and len(active) > 1 else active

