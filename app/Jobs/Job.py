"""The Job base class: jobs declare their policy as attributes and do their work in `handle`."""
from __future__ import annotations

import dataclasses
import functools
import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, ParamSpec, Sequence, TypeVar, cast

from app.Jobs.Contracts import ShouldBeEncrypted, ShouldBeUnique, ShouldBeUniqueUntilProcessing
from app.Jobs.JobState import JobState, JobStatus
from app.Queue import AfterCommit, JobResults
from app.Queue.DispatchChecks import check_priority
from app.Queue.JobRunner import run_now
from app.Queue.Queueable import Queueable
from app.Queue.QueueManager import manager
from app.Queue.Support.time import seconds_until
from app.Tenancy.TenantContext import tenant_for_dispatch
from app.Testing.FakeQueueInteractions import FakeQueueInteractions

if TYPE_CHECKING:
    from app.Bus.JobBatch import JobBatch


P = ParamSpec("P")
J = TypeVar("J", bound="Job")


class _Hybrid:
    """A method that works on the class (build the job from args, then act) and on an instance."""

    def __init__(self, on_class: Callable[..., Any], on_instance: Callable[..., Any]) -> None:
        self.on_class, self.on_instance = on_class, on_instance
        functools.update_wrapper(cast(Any, self), on_instance)

    def __get__(self, obj: Any, owner: type) -> Callable[..., Any]:
        if obj is None:
            return functools.partial(self.on_class, owner)
        return functools.partial(self.on_instance, obj)


def _dispatch_class(cls: type[Job], *args: Any, **kwargs: Any) -> str | None:
    return cls(*args, **kwargs)._dispatch_instance()


def _dispatch_if_class(cls: type[Job], condition: Any, *args: Any, **kwargs: Any) -> str | None:
    return cls(*args, **kwargs)._dispatch_instance() if _truth(condition) else None


def _dispatch_unless_class(cls: type[Job], condition: Any, *args: Any, **kwargs: Any) -> str | None:
    return None if _truth(condition) else cls(*args, **kwargs)._dispatch_instance()


def _dispatch_now_class(cls: type[Job], *args: Any, **kwargs: Any) -> Any:
    return cls(*args, **kwargs)._dispatch_now_instance()


class _Delay:
    """`self.delay = 30` in __init__ (seed style) sets the delay; `job.delay(30)` is the fluent call."""

    def __set__(self, obj: Job, value: Any) -> None:
        seconds_until(value)  # validate early
        obj.__dict__["_delay"] = value

    def __get__(self, obj: Job | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj._set_delay


class _AfterCommit:
    """`after_commit = True` (class or __init__) or `job.after_commit()`: queue it once the open transaction commits."""

    def __set__(self, obj: Job, value: Any) -> None:
        obj.__dict__["_after_commit"] = bool(value)

    def __get__(self, obj: Job | None, owner: type) -> Any:
        if obj is None:
            return self
        return _AfterCommitSwitch(obj)


class _AfterCommitSwitch:
    """What `job.after_commit` reads as: true when set, and callable to set it (fluent)."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def __call__(self) -> Job:
        self.job.__dict__["_after_commit"] = True
        return self.job

    def __bool__(self) -> bool:
        return bool(self.job.__dict__.get("_after_commit"))


class Job(Queueable):
    """Base class of every queued job."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        AfterCommit.install()  # follow SQLAlchemy Session transactions before the app opens any (after_commit)

    # Policy, overridable as class attributes or per instance in __init__.
    queue: str | None = None
    connection: str | None = None
    max_tries: int | None = None          # attempts before failing permanently (worker --tries when None)
    timeout: float | None = None          # seconds one attempt may run (worker --timeout when None)
    backoff: int | Sequence[int] | None = None  # seconds before a retry; a list gives one per attempt
    retry_after: int | Sequence[int] | None = None  # the seed's name for backoff
    retry_until: datetime | Callable[[], datetime] | None = None
    max_exceptions: int | None = None
    fail_on_timeout: bool = False
    priority: int = 0
    store_result: bool = False            # keep handle()'s return value (JSON) for Job.status(id).result
    result_ttl: float = 86400             # seconds a stored result is kept
    tenant: str | None = None             # the tenant the job runs for (app/Tenancy); see for_tenant()
    delay = _Delay()
    after_commit = _AfterCommit()         # queue only when the surrounding SQLAlchemy transaction commits
    continues_chain_itself: bool = False  # a chain step whose success does not move the chain on (ChainedBatch)

    # Runtime state, set on the worker; never serialised.
    job_id: str | None = None
    attempts: int = 0
    batch_id: str | None = None
    chain_id: str | None = None
    _delay: Any = 0
    _released: float | None = None
    _deleted: bool = False
    _failed_with: BaseException | None = None
    _batch_member: str | None = None       # the batch member this job reports for (a chain counts as one)
    _chain: dict[str, Any] | None = None   # the rest of its chain, carried in the envelope

    def __init__(self) -> None:
        self._init_runtime()

    def _init_runtime(self) -> None:
        """Reset the per-run flags (called for new and for restored instances)."""
        d = self.__dict__
        d["_released"] = None
        d["_deleted"] = False
        d["_failed_with"] = None

    # -- what subclasses write --------------------------------------------------------
    def handle(self) -> Any:
        """Do the job's work (may be `async def`)."""
        raise TypeError(f"{type(self).__name__} must define handle()")

    def failed(self, exception: BaseException) -> None:
        """Called once when the job fails permanently."""

    # -- fluent configuration -----------------------------------------------------------
    def on_queue(self, name: str) -> Job:
        """Send this job to queue `name`."""
        self.queue = name
        return self

    def on_connection(self, name: str) -> Job:
        """Send this job through connection `name`."""
        self.connection = name
        return self

    def for_tenant(self, tenant: str | int) -> Job:
        """Run this job for `tenant`: the worker restores that tenant's context before handle (app/Tenancy)."""
        self.tenant = str(tenant)
        return self

    def _set_delay(self, when: float | timedelta | datetime | date) -> Job:
        seconds_until(when)
        self.__dict__["_delay"] = when
        return self

    def delay_until(self, when: float | timedelta | datetime | date) -> Job:
        """Make the job available only after `when` (seconds, timedelta or datetime)."""
        return self._set_delay(when)

    def with_priority(self, priority: int) -> Job:
        """Run before lower-priority jobs of the same queue (higher runs first)."""
        self.priority = check_priority(priority)
        return self

    def before_commit(self) -> Job:
        """Queue at once even inside a transaction, whatever the connection's `after_commit` says."""
        self.__dict__["_after_commit"] = False
        return self

    def with_chain(self, jobs: Sequence[Job]) -> Job:
        """Run `jobs` one after another once this job succeeded; `dispatch()` then returns the chain id."""
        self.__dict__["_with_chain"] = list(jobs)
        return self

    def with_fake_queue_interactions(self) -> Any:
        """Wrap the job for a unit test of `handle()`: assert_released / assert_deleted / assert_failed afterwards."""
        return FakeQueueInteractions(self)

    def delay_seconds(self) -> float:
        """Seconds from now until the job may run."""
        if type(self._delay) is int and self._delay == 0:  # the default: skip the type switch (bulk dispatch)
            return 0.0
        return seconds_until(self._delay)

    # -- dispatching ----------------------------------------------------------------------
    # Each dispatch method works on the class (the job is built from __init__'s arguments) and on
    # an instance (dispatched as it is). At run time a _Hybrid descriptor does both; for type
    # checkers they are classmethods whose `cls` is the constructor, so `SendEmailJob.dispatch(...)`
    # is checked against SendEmailJob.__init__ (ParamSpec), and on an instance they take no job arguments.
    def _dispatch_instance(self) -> str | None:
        chained = self.__dict__.get("_with_chain")
        if chained:  # Laravel's withChain: this job first, then the chain (returns the chain id)
            return manager().chains.dispatch([self, *chained], self.connection)
        return manager().push(self)

    def _dispatch_if_instance(self, condition: Any) -> str | None:
        return self._dispatch_instance() if _truth(condition) else None

    def _dispatch_unless_instance(self, condition: Any) -> str | None:
        return None if _truth(condition) else self._dispatch_instance()

    def _dispatch_now_instance(self) -> Any:
        fake = manager().bus_fake
        if fake is not None:  # QueueFake/BusFake: recorded for assert_dispatched_sync, then run as usual
            fake.record_sync(self)

        return run_now(self)

    if TYPE_CHECKING:
        @classmethod
        def dispatch(cls: Callable[P, J], *args: P.args, **kwargs: P.kwargs) -> str | None:
            """Queue the job; returns its uuid, or None when a unique lock refused it."""
            ...

        @classmethod
        def dispatch_if(cls: Callable[P, J], condition: Any, *args: P.args, **kwargs: P.kwargs) -> str | None:
            """Queue the job when `condition` (a value or a callable) is true."""
            ...

        @classmethod
        def dispatch_unless(cls: Callable[P, J], condition: Any, *args: P.args, **kwargs: P.kwargs) -> str | None:
            """Queue the job unless `condition` (a value or a callable) is true."""
            ...

        @classmethod
        def dispatch_now(cls: Callable[P, J], *args: P.args, **kwargs: P.kwargs) -> Any:
            """Run the job in this process, bypassing the queue; returns handle()'s value."""
            ...
    else:
        dispatch = _Hybrid(_dispatch_class, _dispatch_instance)
        dispatch_if = _Hybrid(_dispatch_if_class, _dispatch_if_instance)
        dispatch_unless = _Hybrid(_dispatch_unless_class, _dispatch_unless_instance)
        dispatch_now = _Hybrid(_dispatch_now_class, _dispatch_now_instance)

    # -- inside handle --------------------------------------------------------------------
    def release(self, delay: float | timedelta | datetime = 0) -> None:
        """Put the job back on its queue to run again after `delay` (counts as an attempt)."""
        self.__dict__["_released"] = seconds_until(delay)

    def fail(self, exception: BaseException | str | None = None) -> None:
        """Fail the job permanently now, without further retries."""
        if exception is None:
            exception = RuntimeError("job marked as failed")
        elif isinstance(exception, str):
            exception = RuntimeError(exception)
        self.__dict__["_failed_with"] = exception

    def delete(self) -> None:
        """Remove the job from the queue without running it again."""
        self.__dict__["_deleted"] = True

    def set_progress(self, percent: float) -> None:
        """Record progress (0–100) for `Job.status(job_id)`."""
        if not 0 <= float(percent) <= 100:
            raise ValueError(f"progress must be between 0 and 100, got {percent}")
        if self.job_id:
            manager().statuses.update(self.job_id, progress=float(percent))

    def batch(self) -> JobBatch | None:
        """The batch this job belongs to, if any."""
        if not self.batch_id:
            return None
        return manager().batches.find(self.batch_id)

    def _payload_extra(self) -> dict[str, Any]:
        """Envelope members for batches and chains (the whole envelope is signed)."""
        extra: dict[str, Any] = {}
        if self.batch_id:
            extra["batchId"] = self.batch_id
            if self._batch_member:
                extra["batchMember"] = self._batch_member
        if self._chain is not None:
            extra["chain"] = self._chain
        tenant = tenant_for_dispatch(self)
        if tenant is not None:  # in the envelope too, so stores and commands can filter without decrypting
            self.tenant = extra["tenant"] = tenant
        return extra

    # -- state ---------------------------------------------------------------------------------
    @staticmethod
    def status(job_id: str) -> JobStatus | None:
        """Get the job's state, attempts, progress and (when kept) result; None when unknown or expired."""
        qm = manager()
        status = qm.statuses.get(job_id)
        if status is not None and status.state is JobState.COMPLETED:
            value = JobResults.get(qm.cache, job_id)
            if value is not JobResults.MISSING:
                status = dataclasses.replace(status, result=value)
        return status

    @staticmethod
    def wait(job_id: str, timeout: float = 30.0, interval: float = 0.05) -> JobStatus:
        """Block until the job completed, failed or was cancelled; returns its status (`.result` when kept).

        Raises LookupError for an unknown job id and TimeoutError when `timeout` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = Job.status(job_id)
            if status is None:
                raise LookupError(f"no job {job_id!r} is known (never dispatched, or older than QUEUE_STATUS_TTL)")
            if status.finished:
                return status
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s (state: {status.state})")
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    @property
    def is_released(self) -> bool:
        return self._released is not None

    @property
    def is_deleted(self) -> bool:
        return self._deleted

    @property
    def has_failed(self) -> bool:
        return self._failed_with is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.job_id}>"


def _truth(condition: Any) -> bool:
    return bool(condition() if callable(condition) else condition)


# The contracts are re-exported so the seed's `class X(Job, ShouldBeUnique)` works with one import line.
__all__ = ["Job", "JobState", "JobStatus", "ShouldBeEncrypted", "ShouldBeUnique", "ShouldBeUniqueUntilProcessing"]
