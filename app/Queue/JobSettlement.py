"""How a worker settles a job after its attempt: record success, release with backoff, or fail it.

The worker (app/Queue/Worker.py) and the concurrent worker (app/Queue/Concurrency/) both settle
through this class, so every job keeps the same guarantees whichever runs it. The ack itself is
the caller's: it goes through the worker's JobSource (app/Queue/Reservations/).
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Protocol

from app.Jobs.JobState import JobState
from app.Queue.AttemptHistory import failure_text
from app.Queue.contracts import ReservedJob
from app.Queue.errors import AuthorizationError, JobTimeoutError
from app.Queue.events import JobExceptionOccurred, JobFailed, JobProcessed, JobReleased
from app.Queue.Quarantine import refuse
from app.Queue.ReplayGuard import is_replay
from app.Queue.StoreOutage import log_failure

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager
    from app.Queue.RetryPolicy import RetryPolicy

log = logging.getLogger("queue.worker")
_COMPLETED = JobState.COMPLETED  # per job: a global is cheaper to read than an enum member off its class


class CallbackRunner(Protocol):
    """Runs a job's hook such as `failed(exc)` (JobRunner, or the concurrent worker's any-thread runner)."""

    def run_callback(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call `fn(*args)`, awaiting it when it is a coroutine function."""


class JobSettlement:
    """The worker's retry and fail policy, applied to one attempt's outcome."""

    def __init__(self, manager: QueueManager, runner: CallbackRunner) -> None:
        self.manager = manager
        self.runner = runner

    def completed(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], started: float, result: Any) -> bool:
        """Settle a returned attempt; True when the job must now be acked (its bookkeeping is recorded)."""
        return self._completed(reserved, job, envelope, started, result, self.manager.events.dispatch) is not None

    def completed_before_ack(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], started: float,
                             result: Any) -> JobProcessed | None:
        """As `completed`, leaving the JobProcessed listeners that may run after the ack to `after_ack`:
        the event to hand them once the ack is sent, or None when the job must not be acked."""
        return self._completed(reserved, job, envelope, started, result, self.manager.events.dispatch_before_ack)

    def after_ack(self, event: JobProcessed) -> None:
        """Call the JobProcessed listeners that only buffer (registered with after_ack), once the job's ack is sent.

        An error is logged as one of `completed`'s is; the job is acked by then, which is why only
        listeners whose records are not the job's durable bookkeeping may run here."""
        try:
            self.manager.events.dispatch_after_ack(event)
        except Exception as exc:
            log_failure(log, "recording the success of %s failed after its ack; it does not run again",
                        exc, type(event.job).__name__)

    def _completed(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], started: float, result: Any,
                   dispatch: Callable[[JobProcessed], None]) -> JobProcessed | None:
        if job.has_failed:
            self.fail(reserved, job, envelope, job._failed_with or RuntimeError("failed"), started)
            return None
        if job.is_released and not job.is_deleted:
            self.release(reserved, job, envelope, job._released or 0.0, None)
            return None
        # Bookkeeping (batch counters, next chain step, unique lock, replay guard) happens before the
        # ack: a crash in between re-runs the job, and those listeners count each uuid once.
        # Acking first would let a crash lose the bookkeeping for good. Listeners that only buffer
        # in memory (metrics, completed jobs, monitor, job log) may be left until the ack is sent.
        self.manager.statuses.mark(job.job_id or "", _COMPLETED, reserved.attempts)
        event = JobProcessed(job, envelope, reserved.attempts, time.monotonic() - started, result)
        try:
            dispatch(event)
        except Exception as exc:
            log_failure(log, "recording the success of %s failed; it stays reserved and runs again after its lease",
                        exc, type(job).__name__)
            return None
        return event

    def raised(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
               exc: Exception, started: float) -> bool:
        """Fail the job if it will exceed its limits, else release it with backoff; True when it must be acked."""
        self.exception_occurred(job, envelope, exc, reserved.attempts)
        if job.has_failed:
            self.fail(reserved, job, envelope, job._failed_with or exc, started)
            return False
        if job.is_deleted:  # deleted, then raised: finished as if it had returned (unique lock, batch, metrics)
            return self.completed(reserved, job, envelope, started, None)
        if self._should_fail(job, policy, exc, reserved.attempts):
            self.fail(reserved, job, envelope, exc, started)
            return False
        delay = job._released if job.is_released else policy.backoff_for(reserved.attempts)
        self.release(reserved, job, envelope, float(delay or 0), exc)
        return False

    def timed_out(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], policy: RetryPolicy,
                  exc: JobTimeoutError) -> None:
        """Settle an attempt given up at its hard deadline: failed when it was the last (or fail_on_timeout), else released."""
        self.exception_occurred(job, envelope, exc, reserved.attempts)
        if policy.fail_on_timeout or policy.will_exceed(reserved.attempts):
            self.fail(reserved, job, envelope, exc, time.monotonic())
        else:
            self.release(reserved, job, envelope, float(policy.backoff_for(reserved.attempts)), exc)

    def _should_fail(self, job: Job, policy: RetryPolicy, exc: Exception, attempts: int) -> bool:
        if isinstance(exc, JobTimeoutError) and policy.fail_on_timeout:
            return True
        if policy.max_exceptions:
            count = self.manager.cache.increment(f"job-exceptions:{job.job_id}", 1, 7 * 86400)
            if count >= policy.max_exceptions:
                return True
        return isinstance(exc, AuthorizationError) or policy.will_exceed(attempts)

    def release(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], delay: float,
                exc: BaseException | None) -> None:
        """Put the job back to run again after `delay` seconds."""
        reserved.release(delay)
        self.manager.statuses.mark(job.job_id or "", JobState.RETRYING, reserved.attempts,
                                   error=f"{type(exc).__name__}: {exc}" if exc else None)
        self.manager.events.dispatch(JobReleased(job, envelope, reserved.attempts, delay, exc))

    def fail(self, reserved: ReservedJob, job: Job, envelope: dict[str, Any], exc: BaseException, started: float) -> None:
        """Record the job in failed_jobs and its batch/chain, remove it, then call its failed() once."""
        text = failure_text(self.manager.cache, job.job_id or "", exc, reserved.attempts)  # with earlier attempts'
        self.manager.failed.log(reserved.connection_name, reserved.queue, reserved.payload, text, job.job_id or "")
        try:  # before the delete, for the same reason as JobProcessed in `completed`
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

    def refuse(self, reserved: ReservedJob, exc: Exception) -> None:
        """A record that cannot be verified or decoded goes to failed_jobs (app/Queue/Quarantine.py)."""
        refuse(self.manager, reserved, exc)

    def replayed(self, reserved: ReservedJob, job: Job) -> bool:
        """Delete, unrun, a record whose exact payload already completed (app/Queue/ReplayGuard.py)."""
        if not is_replay(self.manager, job, reserved.payload, reserved):
            return False
        log.warning("job %s on %s already completed with this payload (replayed or redelivered); deleted, not run",
                    job.job_id, reserved.queue)
        reserved.delete()
        return True

    def gate_delay(self, job: Job, envelope: dict[str, Any]) -> float | None:
        """Ask the registered gates (rate limits) whether the job must wait; returns seconds or None."""
        for gate in self.manager.run_gates:
            wait = gate(job, envelope)
            if wait is not None:
                return wait
        return None

    def exception_occurred(self, job: Job, envelope: dict[str, Any], exc: BaseException, attempts: int) -> None:
        """Tell listeners (Queue.exception_occurred, Queue.timed_out) before the job is released or failed."""
        if self.manager.events.has_listeners(JobExceptionOccurred):
            try:
                self.manager.events.dispatch(JobExceptionOccurred(job, envelope, exc, attempts, isinstance(exc, JobTimeoutError)))
            except Exception:
                log.exception("an exception_occurred listener raised")
