"""The worker: reserve the next job, run it under a lease and a timeout, then ack, release or fail it."""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Sequence

from app.Jobs.JobState import JobState
from app.Queue.AttemptHistory import failure_text
from app.Queue.contracts import BlockingPop, QueueDriver, ReservedJob, ReserveMany
from app.Queue.errors import JobTimeoutError, MaxAttemptsExceededError
from app.Queue.events import (JobExceptionOccurred, JobFailed, JobProcessed, JobProcessing, JobReleased, WorkerLooping,
                              WorkerStarting, WorkerStopping)
from app.Queue.Heartbeat import Heartbeat
from app.Queue.JobRunner import JobRunner
from app.Queue.RetryPolicy import RetryPolicy
from app.Queue.StoreOutage import DEFAULT_LIMIT, OutageNotice, is_store_outage, log_failure
from app.Queue.WorkerOptions import StopReason, WorkerOptions

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.worker")

RESTART_KEY = "queue:restart"
FLAG_CHECK_INTERVAL = 1.0  # seconds between reads of the restart and pause flags


def paused_key(connection: str, queue: str) -> str:
    return f"queue:paused:{connection}:{queue}"


def exception_text(exc: BaseException) -> str:
    """Format an exception for failed_jobs: first line `Type: message`, then the traceback."""
    return f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc))


class Worker:
    """Process jobs from one connection's queues in strict priority order."""

    def __init__(self, manager: QueueManager, options: WorkerOptions | None = None,
                 sleeper: Callable[[float], None] | None = None) -> None:
        self.manager = manager
        self.options = options or WorkerOptions()
        self.worker_id = f"{self.options.name}@{socket.gethostname()}:{os.getpid()}"
        self.runner = JobRunner(keep_alarm_handler=True)
        self.heartbeat = Heartbeat(self._on_hard_timeout)
        self.should_quit = False
        self.jobs_processed = 0
        self._wake = threading.Event()
        self._sleeper = sleeper
        self._current: tuple[ReservedJob, Job, dict[str, Any], RetryPolicy] | None = None
        self._prefetched: ReservedJob | None = None
        # Batch mode (--prefetch N): jobs reserved ahead, not started (attempt not counted yet),
        # each with the monotonic time its lease began; and the finished job whose ack rides
        # along with the next job's start.
        self._held: deque[tuple[Any, float]] = deque()
        self._unacked: Any = None
        self._began: Any = None  # the job _next_held started last: its ack is deferred
        self._ahead_in_flight = False  # a batch reserved ahead whose reply is not read yet
        self._driver_traits: tuple[Any, bool, bool] | None = None
        self._store_reached = False
        self._flags_checked_at = 0.0
        self._restart_at_start: Any = None
        self._restart_now: Any = None
        self._memory_checked_at: float | None = None
        self._over_memory = False
        self._paused: set[str] = set()
        self._held_by_supervisor = False  # SIGUSR2 from horizon's master: take no jobs until SIGCONT
        self._fair: Any = False  # the weighted order, built on first use (None: strict order)
        self.outage = OutageNotice(float(manager.config.get("reconnect_timeout", DEFAULT_LIMIT)))
        self.heartbeat.outage = self.outage

    # -- the loop -------------------------------------------------------------------------
    def daemon(self, connection: str, queues: Sequence[str]) -> int:
        """Work until a stop condition; returns the process exit status."""
        if self.options.concurrency > 1:  # several jobs in flight: app/Queue/Concurrency
            from app.Queue.Concurrency import run_concurrently

            return run_concurrently(self, connection, queues)
        driver = self.manager.connection(connection)
        self._listen_for_signals()
        self._restart_at_start = self._restart_now = self.manager.cache.get(RESTART_KEY)
        self.manager.statuses.start_buffering()
        self.manager.events.dispatch(WorkerStarting(self.worker_id, self.options.name, connection, tuple(queues)))
        started = time.monotonic()
        while True:
            if self.manager.events.has_listeners(WorkerLooping):
                self.manager.events.dispatch(WorkerLooping(connection, tuple(queues)))
            active, job = self._next_job_riding_outages(driver, connection, queues)
            if job is not None:
                self._run_job(connection, job, active)
            elif not active:
                self._sleep(self.options.sleep)
            stop = self._stop_if_necessary(job is not None, started)
            if stop is not None:
                return self._stop(*stop)
            if job is None and active and not self._traits(driver)[0]:
                self._sleep(self.options.sleep)
            elif job is not None and self.options.rest > 0:
                self._sleep(self.options.rest)

    def _next_job_riding_outages(self, driver: QueueDriver, connection: str,
                                 queues: Sequence[str]) -> tuple[list[str], ReservedJob | None]:
        """Pick the active queues and reserve the next job. A store that was reachable and then is
        not (a failover, a restart) is waited out with capped backoff for up to QUEUE_RECONNECT_TIMEOUT
        (app/Queue/StoreOutage.py); longer, or a store never reached, ends the worker with its one-line error."""
        try:
            active = self._active_queues(connection, queues)
            job = self._get_next_job(driver, active) if active else None
        except Exception as exc:
            if not self._store_reached or self.should_quit or not self._wait_out_outage(exc):
                raise
            return list(queues), None
        self._store_reached = True
        self.outage.succeeded()
        return active, job

    def _wait_out_outage(self, exc: Exception) -> bool:
        """The store failed mid-loop: wait (capped backoff) if it is an outage, False if it is not.

        One warning when the outage starts and one when it ends (OutageNotice), whichever thread
        notices; a job in hand stays reserved and comes back when its lease ends (at-least-once).
        """
        if not is_store_outage(exc):
            return False
        self._sleep(self.outage.failed(exc))  # raises past QUEUE_RECONNECT_TIMEOUT
        return True

    def run_next_job(self, connection: str, queues: Sequence[str]) -> bool:
        """Process one job if any is available (`--once`); True when one ran."""
        driver = self.manager.connection(connection)
        self._listen_for_signals()  # SIGTERM during the job lets it finish, as in daemon mode
        job = self._get_next_job(driver, list(queues), block=False)
        if job is None:
            return False
        self.process(connection, job)
        return True

    def _get_next_job(self, driver: QueueDriver, queues: Sequence[str], block: bool = True) -> ReservedJob | None:
        """Get the next job from the first queue that has one."""
        if self._prefetched is not None:
            job, self._prefetched = self._prefetched, None
            return job
        blocking, many = self._traits(driver)
        if block and many:
            return self._next_held(driver, queues)  # type: ignore[arg-type]
        if block and blocking:
            job = driver.pop_blocking(queues, self.worker_id, self.options.sleep)
            if job is not None and self._held_by_supervisor:  # horizon paused us while the pop waited
                job.release(0, undo_attempt=True)
                return None
            return job
        for name in queues:
            job = driver.pop(name, self.worker_id)
            if job is not None:
                return job
        return None

    def _traits(self, driver: Any) -> tuple[bool, bool]:
        """Whether `driver` can wait for jobs, and whether this worker reserves batches from it.

        Cached: isinstance against a runtime Protocol walks its attributes, ~10 us a call.
        """
        cached = self._driver_traits
        if cached is None or cached[0] is not driver:
            cached = self._driver_traits = (driver, isinstance(driver, BlockingPop),
                                            self.options.prefetch > 1 and isinstance(driver, ReserveMany))
        return cached[1], cached[2]

    def _next_held(self, driver: ReserveMany, queues: Sequence[str]) -> ReservedJob | None:
        """Batch mode: start the next prefetched job, reserving a new batch when none is left.

        A job whose lease is half gone while it waited is renewed first (and skipped if that
        fails: another worker may hold it now); a job of a queue paused since is handed back.
        A driver that can reserve ahead (Redis) is asked for more jobs of the first queue once
        half the batch is used, so that round trip overlaps the jobs still held.
        """
        while True:
            if not self._held:
                self._flush_ack()
                settle = getattr(driver, "settle", None)
                if settle is not None:
                    settle()  # a batch reserved ahead arrives here
            if not self._held:
                self._ahead_in_flight = False  # a lost connection may have swallowed its reply
                limit = max(1, self._batch_limit(0))
                wait = self.options.sleep if self._traits(driver)[0] else 0
                batch = driver.pop_many(queues, self.worker_id, limit, wait)
                if not batch:
                    return None
                fetched = time.monotonic()
                self._held.extend((job, fetched) for job in batch)
            job, fetched = self._held.popleft()
            if job.queue not in queues:
                job.release(0)
                continue
            if time.monotonic() - fetched > job.retry_after / 2 and not job.renew():
                log.warning("a prefetched job on %s lost its reservation while waiting; skipped", job.queue)
                continue
            job.begin(self._unacked)
            self._unacked, self._began = None, job
            if len(self._held) <= self.options.prefetch // 2 and not self._ahead_in_flight and job.queue == queues[0]:
                self._reserve_ahead(driver, queues[0])
            return job

    def _batch_limit(self, running: int) -> int:
        """How many jobs the next batch may hold: --prefetch, within what --max-jobs leaves."""
        limit = self.options.prefetch
        if self.options.max_jobs > 0:
            limit = min(limit, self.options.max_jobs - self.jobs_processed - running)
        return limit

    def _reserve_ahead(self, driver: Any, queue: str) -> None:
        """Ask for as many jobs as keep held + running within --prefetch, without waiting."""
        ahead = getattr(driver, "reserve_ahead", None)
        limit = self._batch_limit(1 + len(self._held))
        if ahead is None or limit < 1 or self.should_quit:
            return
        sent = time.monotonic()  # leases start no earlier than this

        def arrived(jobs: list[Any]) -> None:
            self._ahead_in_flight = False
            self._held.extend((j, sent) for j in jobs)

        self._ahead_in_flight = True
        ahead(queue, self.worker_id, limit, arrived)

    def _flush_ack(self) -> None:
        """Send the ack a finished job still owes (batch mode) before anything else is reserved."""
        job, self._unacked = self._unacked, None
        if job is not None:
            job.delete_nowait()

    def _run_job(self, connection: str, job: ReservedJob, queues: Sequence[str]) -> None:
        if self._fair:
            self._fair.served(job.queue, queues)
            queues = self._fair.order(queues)  # a driver that reserves the next job with this ack uses the new order
        try:
            self.process(connection, job, prefetch_from=queues)
            self.jobs_processed += 1
            if time.monotonic() - self._flags_checked_at >= FLAG_CHECK_INTERVAL:
                # a restart sent while this job ran must stop the worker before it takes another job
                self._restart_now = self.manager.cache.get(RESTART_KEY)
        except Exception as exc:  # e.g. the ack during a failover: the job keeps its lease
            if not self._store_reached or not self._wait_out_outage(exc):
                raise

    def _stop_if_necessary(self, ran_job: bool, started: float) -> tuple[int, StopReason] | None:
        """Determine if the worker should stop, and with which status (checked after every job)."""
        o = self.options
        if self.should_quit:
            return 0, StopReason.INTERRUPTED
        if self._restart_requested():
            return 0, StopReason.RESTART
        if self._memory_exceeded():
            return 12, StopReason.MEMORY
        if o.once:
            return 0, StopReason.ONCE
        if o.max_jobs > 0 and self.jobs_processed >= o.max_jobs:
            return 0, StopReason.MAX_JOBS
        if o.max_time > 0 and time.monotonic() - started >= o.max_time:
            return 0, StopReason.MAX_TIME
        if o.stop_when_empty and not ran_job:
            return 0, StopReason.EMPTY
        return None

    def _stop(self, status: int, reason: StopReason) -> int:
        settle = getattr(self._driver_traits[0] if self._driver_traits else None, "settle", None)
        if settle is not None:
            settle()  # a batch reserved ahead must be in hand to be handed back
        if self._prefetched is not None:
            self._prefetched.release(0, undo_attempt=True)  # reserved ahead but never run: no attempt used
            self._prefetched = None
        if self._unacked is not None:
            job, self._unacked = self._unacked, None
            _delete_finished(job)
        while self._held:  # batch mode: never started, so no attempt was counted
            self._held.popleft()[0].release(0)
        self.heartbeat.stop()
        self.runner.close()
        self.manager.statuses.stop_buffering()
        self.manager.events.dispatch(WorkerStopping(status, str(reason)))
        log.info("worker %s stopping: %s", self.worker_id, reason)
        return status

    # -- one job --------------------------------------------------------------------------
    def process(self, connection: str, reserved: ReservedJob, prefetch_from: Sequence[str] = ()) -> None:
        """Decode, guard, run and settle one reserved job; never lets a job's error escape."""
        started = time.monotonic()
        try:
            envelope = self.manager.codec.parse(reserved.payload)
            job = self.manager.codec.restore(envelope)
            job.attempts = reserved.attempts  # before the policy: a backoff() method may read it
            policy = RetryPolicy.resolve(envelope, self.options, self.manager.max_attempts(reserved.queue, reserved.connection_name), job)
        except Exception as exc:  # poison: record it and go on to the next job
            self._fail_undecodable(reserved, exc)
            return
        if self._replayed(reserved, job):
            return
        why = policy.already_exceeded(reserved.attempts)
        if why:
            self._fail(reserved, job, envelope, MaxAttemptsExceededError(f"{type(job).__name__} {why}"), started)
            return
        wait = self._gate_delay(job, envelope)
        if wait is not None:
            reserved.release(wait, undo_attempt=True)  # type: ignore[call-arg]
            return
        self._run_attempt(reserved, job, envelope, policy, started, prefetch_from)

    def _run_attempt(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                     started: float, prefetch_from: Sequence[str]) -> None:
        self.manager.statuses.mark(job.job_id or "", JobState.PROCESSING, reserved.attempts)
        self.manager.events.dispatch(JobProcessing(job, envelope, reserved.attempts))
        self._current = (reserved, job, envelope, policy)
        hard = started + policy.timeout + self.options.hard_timeout_grace if policy.timeout > 0 else None
        self.heartbeat.watch(reserved, hard)
        try:
            result = self.runner.run(job, policy.timeout or None)
        except Exception as exc:
            self.heartbeat.clear()
            self._handle_exception(reserved, job, envelope, policy, exc, started)
        except BaseException:
            self.heartbeat.clear()
            reserved.release(0)  # SystemExit/KeyboardInterrupt from job code: hand the job back, then stop
            raise
        else:
            self.heartbeat.clear()
            self._settle_success(reserved, job, envelope, started, result, prefetch_from)
        finally:
            self._current = None

    def _settle_success(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], started: float,
                        result: Any, prefetch_from: Sequence[str]) -> None:
        if job.has_failed:
            self._fail(reserved, job, envelope, job._failed_with or RuntimeError("failed"), started)
            return
        if job.is_released and not job.is_deleted:
            self._release(reserved, job, envelope, job._released or 0.0, None)
            return
        # Bookkeeping (batch counters, next chain step, unique lock, metrics) happens before the
        # ack: a crash in between re-runs the job, and those listeners count each uuid once.
        # Acking first would let a crash lose the bookkeeping for good.
        self.manager.statuses.mark(job.job_id or "", JobState.COMPLETED, reserved.attempts)
        try:
            self.manager.events.dispatch(JobProcessed(job, envelope, reserved.attempts, time.monotonic() - started, result))
        except Exception as exc:
            log_failure(log, "recording the success of %s failed; it stays reserved and runs again after its lease",
                        exc, type(job).__name__)
            return
        self._ack(reserved, prefetch_from)

    def _ack(self, reserved: ReservedJob, prefetch_from: Sequence[str]) -> None:
        """Delete the finished job; a driver that can also reserve the next job does both in one call."""
        if reserved is self._began:
            self._began, self._unacked = None, reserved  # sent with the next job's start, or before the next reservation
            return
        combined = getattr(reserved, "delete_and_pop", None)
        if combined is not None and prefetch_from and not self.should_quit and not self.options.once:
            self._prefetched = combined(prefetch_from, self.worker_id)
        else:
            _delete_finished(reserved)

    def _handle_exception(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                          exc: Exception, started: float) -> None:
        """Fail the job if it will exceed its limits, else release it with backoff."""
        self._exception_occurred(job, envelope, exc, reserved.attempts)
        if job.has_failed:
            self._fail(reserved, job, envelope, job._failed_with or exc, started)
            return
        if job.is_deleted:  # deleted, then raised: finished as if it had returned (unique lock, batch, metrics)
            self._settle_success(reserved, job, envelope, started, None, ())
            return
        if self._should_fail(job, policy, exc, reserved.attempts):
            self._fail(reserved, job, envelope, exc, started)
            return
        delay = job._released if job.is_released else policy.backoff_for(reserved.attempts)
        self._release(reserved, job, envelope, float(delay or 0), exc)

    def _should_fail(self, job: Job, policy: RetryPolicy, exc: Exception, attempts: int) -> bool:
        if isinstance(exc, JobTimeoutError) and policy.fail_on_timeout:
            return True
        if policy.max_exceptions:
            count = self.manager.cache.increment(f"job-exceptions:{job.job_id}", 1, 7 * 86400)
            if count >= policy.max_exceptions:
                return True
        from app.Queue.errors import AuthorizationError

        return isinstance(exc, AuthorizationError) or policy.will_exceed(attempts)

    def _release(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], delay: float, exc: BaseException | None) -> None:
        reserved.release(delay)
        self.manager.statuses.mark(job.job_id or "", JobState.RETRYING, reserved.attempts,
                                   error=f"{type(exc).__name__}: {exc}" if exc else None)
        self.manager.events.dispatch(JobReleased(job, envelope, reserved.attempts, delay, exc))

    def _fail(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], exc: BaseException, started: float) -> None:
        """Record the job in failed_jobs and its batch/chain, remove it, then call its failed() once."""
        text = failure_text(self.manager.cache, job.job_id or "", exc, reserved.attempts)  # with earlier attempts'
        self.manager.failed.log(reserved.connection_name, reserved.queue, reserved.payload, text, job.job_id or "")
        try:  # before the delete, for the same reason as JobProcessed in _settle_success
            self.manager.events.dispatch(JobFailed(job, envelope, exc, time.monotonic() - started, reserved.attempts))
        except Exception as error:  # not `exc`: that name is the job's exception, used below
            log_failure(log, "recording the failure of %s failed; it stays reserved and is failed again after its lease",
                        error, type(job).__name__)
            return
        reserved.delete()
        if envelope.get("maxExceptions"):  # a retry from failed_jobs starts counting exceptions afresh
            self.manager.cache.forget(f"job-exceptions:{job.job_id}")
        self.manager.statuses.mark(job.job_id or "", JobState.FAILED, reserved.attempts, error=f"{type(exc).__name__}: {exc}")
        try:
            self.runner.run_callback(job.failed, exc)
        except Exception:
            log.exception("failed() of %s raised", type(job).__name__)

    def _fail_undecodable(self, reserved: ReservedJob, exc: Exception) -> None:
        """A record that cannot be verified or decoded goes to failed_jobs (app/Queue/Quarantine.py)."""
        from app.Queue.Quarantine import refuse

        refuse(self.manager, reserved, exc)

    def _replayed(self, reserved: ReservedJob, job: Job) -> bool:
        """Delete, unrun, a record whose exact payload already completed (app/Queue/ReplayGuard.py)."""
        from app.Queue.ReplayGuard import is_replay

        if not is_replay(self.manager, job, reserved.payload, reserved):
            return False
        log.warning("job %s on %s already completed with this payload (replayed or redelivered); deleted, not run",
                    job.job_id, reserved.queue)
        reserved.delete()
        return True

    def _gate_delay(self, job: Job, envelope: dict[str, Any]) -> float | None:
        """Ask the registered gates (rate limits) whether the job must wait; returns seconds or None."""
        for gate in getattr(self.manager, "run_gates", ()):
            wait = gate(job, envelope)
            if wait is not None:
                return wait
        return None

    def _on_hard_timeout(self, reserved: ReservedJob) -> None:
        """The job ignored its soft timeout: settle it from the heartbeat thread, then the process exits."""
        current = self._current
        if current is None or current[0] is not reserved:
            return
        _, job, envelope, policy = current
        exc = JobTimeoutError(f"{type(job).__name__} timed out after {policy.timeout:g} s and did not stop; the worker exited")
        log.error("%s", exc)
        self._exception_occurred(job, envelope, exc, reserved.attempts)
        if policy.fail_on_timeout or policy.will_exceed(reserved.attempts):
            self._fail(reserved, job, envelope, exc, time.monotonic())
        else:
            self._release(reserved, job, envelope, float(policy.backoff_for(reserved.attempts)), exc)

    def _exception_occurred(self, job: Job, envelope: dict[str, Any], exc: BaseException, attempts: int) -> None:
        """Tell listeners (Queue.exception_occurred, Queue.timed_out) before the job is released or failed."""
        if self.manager.events.has_listeners(JobExceptionOccurred):
            try:
                self.manager.events.dispatch(JobExceptionOccurred(job, envelope, exc, attempts, isinstance(exc, JobTimeoutError)))
            except Exception:
                log.exception("an exception_occurred listener raised")

    # -- flags, signals, memory -------------------------------------------------------------
    def _active_queues(self, connection: str, queues: Sequence[str]) -> list[str]:
        if self._held_by_supervisor:
            return []
        self._refresh_flags(connection, queues)
        active = [q for q in queues if q not in self._paused]
        return self._fair_order(queues, active)

    def _fair_order(self, queues: Sequence[str], active: list[str]) -> list[str]:
        """Strict order, or weighted fair sharing when the queues have weights (app/Queue/QueueWeights.py)."""
        if self._fair is False:
            from app.Queue.QueueWeights import weighted_order

            self._fair = weighted_order(queues, dict(self.options.queue_weights), self.manager.definitions)
        return self._fair.order(active) if self._fair is not None and len(active) > 1 else active

    def _refresh_flags(self, connection: str, queues: Sequence[str]) -> None:
        t = time.monotonic()
        if t - self._flags_checked_at < FLAG_CHECK_INTERVAL:
            return
        self._flags_checked_at = t
        cache = self.manager.cache
        many = getattr(cache, "many", None)
        keys = [paused_key(connection, q) for q in queues]
        values = many(keys) if many else {k: cache.get(k) for k in keys}
        self._paused = {q for q, k in zip(queues, keys) if values.get(k)}
        self._restart_now = cache.get(RESTART_KEY)

    def _restart_requested(self) -> bool:
        return self._restart_now is not None and self._restart_now != self._restart_at_start

    def _memory_exceeded(self) -> bool:
        """Compare RSS with --memory, reading /proc at most once per FLAG_CHECK_INTERVAL.

        Reading RSS costs ~10 us, several per cent of a no-op job on Redis; memory
        grows slowly, so a worker still exits within a second of passing its limit.
        """
        if self.options.memory <= 0:
            return False
        t = time.monotonic()
        if self._memory_checked_at is None or t - self._memory_checked_at >= FLAG_CHECK_INTERVAL:
            self._memory_checked_at = t
            self._over_memory = rss_mb() >= self.options.memory
        return self._over_memory

    def _listen_for_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def _quit(signum: int, frame: Any) -> None:
            self.should_quit = True
            self._wake.set()

        signal.signal(signal.SIGTERM, _quit)
        signal.signal(signal.SIGINT, _quit)
        signal.signal(signal.SIGUSR2, self._hold)
        signal.signal(signal.SIGCONT, self._unhold)

    def _hold(self, signum: int, frame: Any) -> None:
        """Pause (SIGUSR2, sent by horizon:pause through the master): finish the current job, take no more."""
        self._held_by_supervisor = True

    def _unhold(self, signum: int, frame: Any) -> None:
        """Continue (SIGCONT) after a SIGUSR2 pause."""
        if self._held_by_supervisor:
            self._held_by_supervisor = False
            self._wake.set()

    def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self.should_quit:
            return
        if self._sleeper is not None:
            self._sleeper(seconds)
            return
        self._wake.wait(seconds)
        self._wake.clear()


def _delete_finished(job: ReservedJob) -> None:
    """Ack a finished job, warning when its reservation was lost (it may then run again)."""
    if not job.delete():
        log.warning("job on %s finished after its reservation was lost; it may run again", job.queue)


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; falls back to peak RSS)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
