"""Test doubles for dispatching: record pushed jobs, batches and chains instead of storing them.

`QueueFake()` starts faking at once (seed style), is a context manager, and `restore()`
puts the real queue back; the pytest fixtures `queue_fake` / `bus_fake` come from
app/Testing/pytest_plugin.py. Faking swaps `push`, `later` and `bulk` on the manager
instance (the async twins call them, so they are faked too) and sets
`manager.bus_fake`, which batch(...).dispatch() and chain(...).dispatch() consult so
they record themselves here instead of storing anything. Push guards (unique locks)
still run, as a real dispatch would. `dispatch_now` runs the job as usual.
"""
from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from app.Queue.Support.time import seconds_until
from app.Queue.QueueManager import manager as default_manager
from app.Jobs.Job import Job

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

FAKED = ("push", "later", "bulk")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class PushedJob:
    """One job the code under test pushed."""

    job: Any
    queue: str
    connection: str
    delay: float
    id: str

    def describe(self) -> str:
        when = f" (delay {self.delay:g}s)" if self.delay else ""
        return f"{type(self.job).__name__} on {self.connection}:{self.queue}{when}"


@dataclass(frozen=True, slots=True)
class RecordedBatch:
    """A batch or chain the code under test dispatched: its jobs, name and the builder itself (`pending`)."""

    id: str
    jobs: list[Any]
    name: str | None = None
    pending: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = "batch"

    def describe(self) -> str:
        return f"{self.kind} {self.name or self.id[:8]!r} of [{', '.join(type(j).__name__ for j in self.jobs)}]"

    # Laravel's PendingBatch reads, for assert_batched predicates.
    def allows_failures(self) -> bool:
        """Whether the batch was built with allow_failures()."""
        return bool(getattr(self.pending, "_allow", 0))

    @property
    def allowed_failures(self) -> int | bool:
        return getattr(self.pending, "_allow", 0)  # type: ignore[no-any-return]

    @property
    def queue(self) -> str | None:
        return self.options.get("queue")

    @property
    def connection(self) -> str | None:
        return self.options.get("connection")

    def callbacks(self, kind: str) -> list[Any]:
        """The callbacks registered for `kind` (before, progress, then, catch, finally)."""
        found = getattr(self.pending, "_callbacks", {}) or {}
        return list(found.get(kind, [])) if isinstance(found, dict) else []


RecordedChain = RecordedBatch


def _matches(predicate: Callable[..., Any] | None, *args: Any) -> bool:
    """Call a predicate with as many of (job, queue, connection) as it takes."""
    if predicate is None:
        return True
    try:
        params = inspect.signature(predicate).parameters.values()
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        count = len(args) if variadic else sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    except (TypeError, ValueError):
        count = 1
    return bool(predicate(*args[: max(1, count)]))


class QueueFake:
    """Record pushes on the process's QueueManager until `restore()`; assertions raise AssertionError."""

    def __init__(self, manager: QueueManager | None = None, only: Iterable[type] = ()) -> None:
        self.manager = manager or default_manager()
        self.only = tuple(only)  # fake just these job classes; others are pushed for real
        self.pushed_jobs: list[PushedJob] = []
        self.batches: list[RecordedBatch] = []
        self.chains: list[RecordedBatch] = []
        self.sync_jobs: list[Any] = []  # dispatch_now calls (they still run, as without the fake)
        self._saved: dict[str, Any] = {}
        self._real: dict[str, Callable[..., Any]] = {}
        self.active = False
        self._install()

    # -- install / restore -------------------------------------------------------------------
    def _install(self) -> None:
        qm = self.manager
        for name in (*FAKED, "bus_fake"):
            self._saved[name] = qm.__dict__.get(name, _MISSING)
        self._real = {name: getattr(qm, name) for name in FAKED}
        qm.__dict__.update(push=self._push, later=self._later, bulk=self._bulk, bus_fake=self)
        self.active = True

    def restore(self) -> None:
        """Put the real push/later/bulk back (idempotent)."""
        if not self.active:
            return
        for name, value in self._saved.items():
            if value is _MISSING:
                self.manager.__dict__.pop(name, None)
            else:
                self.manager.__dict__[name] = value
        self.active = False

    def __enter__(self) -> QueueFake:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    # -- the fake manager methods --------------------------------------------------------------
    def _faked(self, job: Any) -> bool:
        return not self.only or isinstance(job, self.only)

    def _record(self, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
        if not isinstance(job, Job):
            raise TypeError(f"only Job instances can be queued, got {type(job).__name__}")
        queue_name, conn = self.manager._target(job, queue, connection)
        for guard in self.manager.push_guards:
            if not guard(job, queue_name, conn):
                return None
        job.job_id = str(uuid.uuid4())
        seconds = job.delay_seconds() if delay is None else delay
        self.pushed_jobs.append(PushedJob(job, queue_name, conn, seconds, job.job_id))
        return job.job_id

    def _push(self, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        if not self._faked(job):
            return self._real["push"](job, queue, connection)
        return self._record(job, queue, connection, None)

    def _later(self, delay: Any, job: Job, queue: str | None = None, connection: str | None = None) -> str | None:
        if not self._faked(job):
            return self._real["later"](delay, job, queue, connection)
        return self._record(job, queue, connection, seconds_until(delay))

    def _bulk(self, jobs: Iterable[Job], queue: str | None = None, connection: str | None = None) -> list[str | None]:
        return [self._push(job, queue, connection) for job in jobs]

    # -- hooks for app/Jobs/Batch.py and app/Jobs/Chain.py ---------------------------------------
    def record_batch(self, pending: Any, jobs: Sequence[Any], name: str | None = None, **options: Any) -> str:
        """Record a batch instead of storing it; returns a fake batch id."""
        recorded = RecordedBatch(str(uuid.uuid4()), list(jobs), name, pending, options)
        self.batches.append(recorded)
        return recorded.id

    def record_chain(self, pending: Any, jobs: Sequence[Any], name: str | None = None, **options: Any) -> str:
        """Record a chain instead of pushing its first job; returns a fake chain id."""
        recorded = RecordedBatch(str(uuid.uuid4()), list(jobs), name, pending, options, kind="chain")
        self.chains.append(recorded)
        return recorded.id

    def record_sync(self, job: Any) -> None:
        """Record a `dispatch_now` (Job._dispatch_now_instance calls this while a fake is active)."""
        self.sync_jobs.append(job)

    # -- queries -------------------------------------------------------------------------------------
    def pushed(self, job_cls: type, predicate: Callable[..., Any] | None = None) -> list[Any]:
        """Jobs of `job_cls` (isinstance) that were pushed and satisfy `predicate(job[, queue[, connection]])`."""
        return [p.job for p in self._pushed(job_cls, predicate)]

    def _pushed(self, job_cls: type, predicate: Callable[..., Any] | None = None) -> list[PushedJob]:
        return [p for p in self.pushed_jobs if isinstance(p.job, job_cls) and _matches(predicate, p.job, p.queue, p.connection)]

    def _report(self) -> str:
        parts = [p.describe() for p in self.pushed_jobs]
        parts += [b.describe() for b in (*self.batches, *self.chains)]
        return "Pushed: " + "; ".join(parts) if parts else "Nothing was pushed."

    def _fail(self, message: str) -> None:
        raise AssertionError(f"{message}\n{self._report()}")

    # -- assertions ------------------------------------------------------------------------------------
    def assert_pushed(self, job_cls: type, times_or_predicate: int | Callable[..., Any] | None = None) -> None:
        """Assert a job of `job_cls` was pushed (exactly N times when given an int; matching a predicate when given one)."""
        if isinstance(times_or_predicate, int) and not isinstance(times_or_predicate, bool):
            self.assert_pushed_times(job_cls, times_or_predicate)
            return
        if not self._pushed(job_cls, times_or_predicate):
            extra = " matching the predicate" if times_or_predicate is not None else ""
            self._fail(f"Expected {job_cls.__name__} to be pushed{extra}, but it was not.")

    def assert_pushed_times(self, job_cls: type, times: int = 1) -> None:
        """Assert a job of `job_cls` was pushed exactly `times` times."""
        count = len(self._pushed(job_cls))
        if count != times:
            self._fail(f"Expected {job_cls.__name__} to be pushed {times} time(s), but it was pushed {count} time(s).")

    def assert_pushed_on(self, queue: str, job_cls: type, predicate: Callable[..., Any] | None = None) -> None:
        """Assert a job of `job_cls` was pushed onto `queue`."""
        if not [p for p in self._pushed(job_cls, predicate) if p.queue == queue]:
            self._fail(f"Expected {job_cls.__name__} to be pushed on queue {queue!r}, but it was not.")

    def assert_not_pushed(self, job_cls: type, predicate: Callable[..., Any] | None = None) -> None:
        """Assert no job of `job_cls` (matching `predicate`) was pushed."""
        found = self._pushed(job_cls, predicate)
        if found:
            self._fail(f"Expected {job_cls.__name__} not to be pushed, but it was pushed {len(found)} time(s).")

    def assert_nothing_pushed(self) -> None:
        """Assert no job, batch or chain was pushed."""
        if self.pushed_jobs or self.batches or self.chains:
            self._fail("Expected nothing to be pushed.")

    def assert_count(self, count: int) -> None:
        """Assert exactly `count` jobs were pushed in total (batches and chains not included)."""
        if len(self.pushed_jobs) != count:
            self._fail(f"Expected {count} job(s) to be pushed, but {len(self.pushed_jobs)} were.")

    def assert_batched(self, predicate: Callable[[RecordedBatch], Any] | None = None) -> None:
        """Assert a batch was dispatched for which `predicate(batch)` is true (batch.jobs, .name, .pending)."""
        if not any(predicate is None or predicate(b) for b in self.batches):
            self._fail("Expected a matching batch to be dispatched, but none was." if self.batches else
                       "Expected a batch to be dispatched, but none was.")

    def assert_batch_count(self, count: int) -> None:
        """Assert exactly `count` batches were dispatched."""
        if len(self.batches) != count:
            self._fail(f"Expected {count} batch(es) to be dispatched, but {len(self.batches)} were.")

    def assert_dispatched_sync(self, job_cls: type, times_or_predicate: int | Callable[..., Any] | None = None) -> None:
        """Assert a job of `job_cls` ran through `dispatch_now` (N times, or matching a predicate on the job)."""
        found = [j for j in self.sync_jobs if isinstance(j, job_cls)]
        if isinstance(times_or_predicate, int) and not isinstance(times_or_predicate, bool):
            if len(found) != times_or_predicate:
                self._fail(f"Expected {job_cls.__name__} to be dispatched synchronously {times_or_predicate} time(s), "
                           f"but it was {len(found)} time(s).")
            return
        if not [j for j in found if _matches(times_or_predicate, j)]:
            extra = " matching the predicate" if times_or_predicate is not None else ""
            self._fail(f"Expected {job_cls.__name__} to be dispatched synchronously{extra}, but it was not.")

    def assert_not_dispatched_sync(self, job_cls: type) -> None:
        """Assert no job of `job_cls` ran through `dispatch_now`."""
        if any(isinstance(j, job_cls) for j in self.sync_jobs):
            self._fail(f"Expected {job_cls.__name__} not to be dispatched synchronously, but it was.")

    def assert_pushed_with_chain(self, job_cls: type, expected_chain: Sequence[Any]) -> None:
        """Assert a job of `job_cls` was dispatched with exactly this chain after it (`with_chain([...])` or `chain([...])`)."""
        for recorded in self.chains:
            if recorded.jobs and isinstance(recorded.jobs[0], job_cls) and _chain_matches(recorded.jobs[1:], expected_chain):
                return
        names = ", ".join(e.__name__ if isinstance(e, type) else type(e).__name__ for e in expected_chain)
        self._fail(f"Expected {job_cls.__name__} to be pushed with the chain [{names}], but it was not.")

    def assert_nothing_batched(self) -> None:
        """Assert no batch was dispatched."""
        if self.batches:
            self._fail(f"Expected no batch to be dispatched, but {len(self.batches)} were.")

    def assert_chained(self, expected: Sequence[Any]) -> None:
        """Assert a chain of exactly these jobs was dispatched: classes match by isinstance, instances by class and attributes."""
        if not any(_chain_matches(c.jobs, expected) for c in self.chains):
            names = ", ".join(e.__name__ if isinstance(e, type) else type(e).__name__ for e in expected)
            self._fail(f"Expected a chain of [{names}] to be dispatched, but none matched.")


def _chain_matches(jobs: Sequence[Any], expected: Sequence[Any]) -> bool:
    if len(jobs) != len(expected):
        return False
    for job, want in zip(jobs, expected):
        if isinstance(want, type):
            if not isinstance(job, want):
                return False
        elif type(job) is not type(want) or _public(job) != _public(want):
            return False
    return True


def _public(job: Any) -> dict[str, Any]:
    runtime = {"job_id", "attempts", "batch_id", "chain_id"}
    return {k: v for k, v in vars(job).items() if not k.startswith("_") and k not in runtime}


class BusFake(QueueFake):
    """QueueFake with Laravel's Bus::fake names (assert_dispatched, ...) for code that thinks in commands."""

    def assert_dispatched(self, job_cls: type, times_or_predicate: int | Callable[..., Any] | None = None) -> None:
        self.assert_pushed(job_cls, times_or_predicate)

    def assert_dispatched_times(self, job_cls: type, times: int = 1) -> None:
        self.assert_pushed_times(job_cls, times)

    def assert_not_dispatched(self, job_cls: type, predicate: Callable[..., Any] | None = None) -> None:
        self.assert_not_pushed(job_cls, predicate)

    def assert_nothing_dispatched(self) -> None:
        self.assert_nothing_pushed()


def restore_all(manager: QueueManager) -> None:
    """Undo every fake still installed on `manager` (the pytest plugin calls this after each test)."""
    fake = manager.__dict__.get("bus_fake")
    while isinstance(fake, QueueFake) and fake.active:
        fake.restore()
        fake = manager.__dict__.get("bus_fake")
