"""Small Protocols every queue driver and store implements; behaviour is defined once here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable


@dataclass(frozen=True, slots=True)
class QueueSizes:
    """Counts of one queue: ready now, waiting for their time, held by workers."""

    pending: int
    delayed: int
    reserved: int

    @property
    def total(self) -> int:
        return self.pending + self.delayed + self.reserved


class PushItem(NamedTuple):
    """One job for `bulk`: the signed payload and where/when it goes (a tuple: a bulk makes one per job,
    and a frozen dataclass's __init__ cost ~0.5 us of the ~10 us a bulk job takes)."""

    payload: str
    queue: str
    delay: float = 0.0
    priority: int = 0


class ReservedJob(Protocol):
    """A job a worker holds under a lease; only the holder of the reservation may ack it."""

    payload: str
    attempts: int
    queue: str
    connection_name: str
    retry_after: float  # lease length in seconds; the worker renews every third of it

    def delete(self) -> bool:
        """Remove the job after it finished; False when the reservation was lost."""

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        """Put the job back to run after `delay` seconds; `undo_attempt` un-counts this reservation."""

    def renew(self) -> bool:
        """Extend the lease by the queue's retry_after; False when the reservation was lost."""


class QueueDriver(Protocol):
    """Storage of jobs for one connection."""

    connection_name: str

    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        """Store one job, available after `delay` seconds."""

    def bulk(self, items: Sequence[PushItem]) -> None:
        """Store many jobs in as few round trips as the store allows."""

    def pop(self, queue: str, worker_id: str) -> ReservedJob | None:
        """Reserve the next available job of `queue` (highest priority, then oldest)."""

    def sizes(self, queue: str) -> QueueSizes:
        """Count pending, delayed and reserved jobs."""

    def clear(self, queue: str) -> int:
        """Delete every job of `queue`; returns how many."""

    def queues(self) -> list[str]:
        """Name the queues that currently hold jobs."""

    def close(self) -> None:
        """Release connections."""


@runtime_checkable
class BlockingPop(Protocol):
    """Optional: a driver that can wait for a job without polling (Redis)."""

    def pop_blocking(self, queues: Sequence[str], worker_id: str, timeout: float) -> ReservedJob | None:
        """Reserve the next job of the first non-empty queue, waiting up to `timeout` seconds."""


class HeldJob(ReservedJob, Protocol):
    """A job reserved ahead in a batch (`pop_many`): held, not started, so no attempt is counted yet."""

    def begin(self, finished: HeldJob | None = None) -> None:
        """Count the attempt and renew the lease as the job starts, acking `finished` in the same call."""

    def delete_nowait(self) -> None:
        """Ack without waiting for the store's reply where the store allows (the driver reports a lost job)."""


@runtime_checkable
class ReserveMany(Protocol):
    """Optional: a driver that reserves several jobs in one round trip (the worker's `--prefetch`)."""

    def pop_many(self, queues: Sequence[str], worker_id: str, limit: int, timeout: float = 0) -> Sequence[HeldJob]:
        """Reserve up to `limit` jobs of the first non-empty queue, each under its own lease;
        wait up to `timeout` seconds for one when all are empty (where the driver can)."""


@runtime_checkable
class ReserveAhead(Protocol):
    """Optional, with ReserveMany: a driver that sends a batch reservation now and reads its reply later (Redis)."""

    def reserve_ahead(self, queue: str, worker_id: str, limit: int, deliver: Callable[[list[Any]], None]) -> None:
        """Ask for up to `limit` jobs of `queue` without waiting; `deliver` gets them when the reply is read."""

    def collect_reserved_ahead(self) -> None:
        """Read the replies of reservations made ahead (their jobs are delivered now)."""


@runtime_checkable
class StartsHeldJobs(Protocol):
    """Optional, with ReserveMany: a driver that starts a job another driver of its connection holds (Redis),
    so a concurrent worker's slot thread starts a held job itself, on a connection of its own."""

    def begin_held(self, job: Any, finished: Any = None) -> None:
        """`job.begin(finished)` sent on this driver's connection; the job's later writes go there too (in order)."""

    def flush(self) -> None:
        """Wait until every command sent on this driver's connection has been applied."""


@runtime_checkable
class AckAndReserve(Protocol):
    """Optional: a driver that acks a finished job and reserves the next one in the same round trip."""

    def delete_and_pop(self, job: Any, queues: Sequence[str], worker_id: str) -> ReservedJob | None:
        """Delete `job` (while still reserved by us) and reserve the next job of the first queue that has one."""


@runtime_checkable
class AckAndReserveLater(Protocol):
    """Optional, with AckAndReserve: a driver that sends the ack and the next reservation now and reads
    the reply later, so the worker's own work between the two overlaps the round trip (Redis)."""

    def send_delete_and_pop(self, job: Any, queues: Sequence[str], worker_id: str) -> Callable[[], ReservedJob | None]:
        """Send `delete_and_pop(job, queues, worker_id)`; the returned reader waits for its reply and gives
        the job reserved. Call it before anything else uses the driver; a reply lost with the connection
        is handled by the reader as a failed `delete_and_pop` would be."""


@runtime_checkable
class ReadMany(Protocol):
    """Optional: a cache store that reads several keys in one round trip."""

    def many(self, keys: list[str]) -> dict[str, Any]:
        """Read `keys`; missing or expired ones are absent or None."""


class JobSource(Protocol):
    """Where a worker gets its jobs and returns them: one strategy of reserving, chosen once per worker.

    app/Queue/Reservations/ holds one per strategy (one job per call, the ack reserving the
    next, batches under --prefetch). A source is used from one thread (the worker's main thread).
    """

    waits: bool  # next_job itself waits for a job (a blocking pop): an idle worker need not sleep as well

    def next_job(self, queues: Sequence[str], wait: float) -> ReservedJob | None:
        """Reserve (or hand out, already reserved) the next job of the first queue of `queues` that has
        one, waiting up to `wait` seconds where the store can wait."""

    def finished(self, job: ReservedJob, queues: Sequence[str], meanwhile: Callable[[], None] | None = None) -> None:
        """Ack a job that completed; `queues`, when given, is where the next job will be taken from
        (a source may reserve it with the ack). Empty `queues`: no next job, ack it plainly.

        `meanwhile`, when given, is called once the ack is sent (or failed) and before this returns:
        while the ack's reply is on its way where the driver can wait for it later."""

    def close(self) -> None:
        """Hand back every job reserved but not started, and send acks still owed."""


@runtime_checkable
class StreamingBulk(Protocol):
    """Optional: a driver whose `bulk` takes a lazy iterable and stores each chunk as soon as it fills,
    so the store works on one chunk while the caller builds the next (Redis)."""

    def bulk_stream(self, items: Iterable[tuple[str, str, float, int]], counts: Mapping[str, int]) -> None:
        """Store every item of `items` (PushItems, or plain tuples in their order: payload, queue, delay,
        priority; `counts`: how many go to each queue), returning once all are stored."""


@runtime_checkable
class OneCallDispatch(Protocol):
    """A driver that stores a dispatch's record with its pending status and unique lock in one call (Redis).

    `dispatch_writes()` opens a context in which the status and lock stores on the same server
    hand their writes over instead of sending them (None: not possible here); `push_dispatch`
    stores everything at once and returns False when the unique lock was held (nothing stored).
    """

    def dispatch_writes(self) -> Any: ...

    def push_dispatch(self, item: PushItem, writes: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class FailedJobRecord:
    """A row of failed_jobs."""

    id: int | str
    uuid: str
    connection: str
    queue: str
    payload: str
    exception: str
    failed_at: float


class FailedJobProvider(Protocol):
    """Where permanently failed jobs are recorded (failed_jobs table, or a Redis list)."""

    def log(self, connection: str, queue: str, payload: str, exception: str, uuid: str) -> None:
        """Record a failed job (idempotent per uuid)."""

    def all(self, queue: str | None = None) -> list[FailedJobRecord]:
        """List failed jobs, newest first."""

    def recent(self, limit: int | None = None, queue: str | None = None, job_class: str | None = None) -> list[FailedJobRecord]:
        """List failed jobs, newest first: at most `limit`, of one queue and/or one job class."""

    def find(self, ident: str) -> FailedJobRecord | None:
        """Find by uuid or row id."""

    def forget(self, ident: str) -> bool:
        """Delete one record."""

    def forget_record(self, record: FailedJobRecord) -> bool:
        """Delete `record` unless its job failed again since it was read (a newer failure gets a new id and stays)."""

    def flush(self, older_than_hours: float | None = None) -> int:
        """Delete all records (or those older than N hours)."""


class CacheStore(Protocol):
    """Shared key/value store for status, flags, locks and counters (Redis or the cache tables)."""

    def get(self, key: str) -> Any | None:
        """Read a value (None when missing or expired)."""

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Write a JSON-able value, expiring after `ttl` seconds."""

    def add(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Write only if absent (atomic); True when written."""

    def forget(self, key: str) -> None:
        """Delete a key."""

    def increment(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add to a counter, creating it (with `ttl`) when absent."""



@runtime_checkable
class PutEncoded(Protocol):
    """Optional: a cache store that takes a value already spelt as `json.dumps(value)` spells it."""

    def put_encoded(self, key: str, text: str, ttl: float | None = None) -> None:
        """Write the JSON `text` as the value of `key`, expiring after `ttl` seconds (`put` without encoding)."""

class Connector(Protocol):
    """Builds a driver from a connection's config."""

    def __call__(self, name: str, config: Mapping[str, Any]) -> QueueDriver: ...
