"""Worker and queue lifecycle events (frozen dataclasses) and the tiny dispatcher that sends them.

Batches, chains, unique locks and metrics listen to these instead of living in the worker.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from app.Jobs.Job import Job


@dataclass(frozen=True, slots=True)
class JobQueued:
    job: Job
    uuid: str
    queue: str
    connection: str


@dataclass(frozen=True, slots=True)
class JobProcessing:
    job: Job
    envelope: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class JobProcessed:
    """The job finished its attempt without error (completed, deleted, or skipped by middleware)."""

    job: Job
    envelope: dict[str, Any]
    attempts: int
    runtime: float
    result: Any = None


@dataclass(frozen=True, slots=True)
class JobReleased:
    job: Job
    envelope: dict[str, Any]
    attempts: int
    delay: float
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class JobFailed:
    """The job failed permanently; `job` is None when the payload could not be decoded."""

    job: Job | None
    envelope: dict[str, Any]
    exception: BaseException
    runtime: float = 0.0
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class JobExceptionOccurred:
    """An attempt raised (released or failed after it); `timed_out` when the exception is its timeout."""

    job: Job
    envelope: dict[str, Any]
    exception: BaseException
    attempts: int
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class WorkerLooping:
    """The worker is about to look for its next job (once per loop of `queue:work`)."""

    connection: str
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkerStarting:
    """A worker's loop is about to start: who it is and what it works (heartbeats, metrics buffering)."""

    worker_id: str
    name: str
    connection: str
    queues: tuple[str, ...]
    concurrency: int = 1  # jobs the worker runs at once (queue:work --concurrency)


@dataclass(frozen=True, slots=True)
class WorkerStopping:
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class QueueBusy:
    """queue:monitor found a queue over its threshold (Laravel's QueueBusy); listeners can notify someone."""

    connection: str
    queue: str
    size: int
    max: int


Listener = Callable[[Any], None]


@dataclass
class EventDispatcher:
    """Send events to listeners registered per event class.

    A listener registered with `after_ack=True` only records into memory (its own flusher writes
    it out later): a worker may call it once the job's ack is sent, while the ack's reply is on its
    way (`dispatch_before_ack`, then `dispatch_after_ack`), instead of before the ack. `dispatch` calls
    every listener, as registered. Change `listeners` through `listen` and `forget` only.
    """

    listeners: dict[type, list[Listener]] = field(default_factory=lambda: defaultdict(list))
    after_ack: dict[type, list[Listener]] = field(default_factory=lambda: defaultdict(list))
    _before_ack: dict[type, tuple[Listener, ...]] = field(default_factory=dict, init=False, repr=False)  # kept per class

    def listen(self, event_type: type, listener: Listener, *, after_ack: bool = False) -> None:
        """Call `listener(event)` for every event of `event_type`; `after_ack`: it may run after the job's ack is sent."""
        if listener not in self.listeners[event_type]:
            self.listeners[event_type].append(listener)
            if after_ack:
                self.after_ack[event_type].append(listener)
            self._before_ack.pop(event_type, None)

    def forget(self, event_type: type, listener: Listener) -> None:
        """Stop calling `listener`."""
        if listener in self.listeners.get(event_type, []):
            self.listeners[event_type].remove(listener)
            if listener in self.after_ack.get(event_type, []):
                self.after_ack[event_type].remove(listener)
            self._before_ack.pop(event_type, None)

    def dispatch(self, event: Any) -> None:
        """Call the listeners of `event`'s class in registration order."""
        for listener in self.listeners.get(type(event), ()):
            listener(event)

    def dispatch_before_ack(self, event: Any) -> None:
        """Call the listeners of `event`'s class that must run before the job's ack, in registration order."""
        kind = type(event)
        listeners = self._before_ack.get(kind)
        if listeners is None:
            later = self.after_ack.get(kind, ())
            listeners = self._before_ack[kind] = tuple(f for f in self.listeners.get(kind, ()) if f not in later)
        for listener in listeners:
            listener(event)

    def dispatch_after_ack(self, event: Any) -> None:
        """Call the listeners of `event`'s class registered with `after_ack`, in registration order."""
        for listener in self.after_ack.get(type(event), ()):
            listener(event)

    def has_listeners(self, event_type: type) -> bool:
        return bool(self.listeners.get(event_type))
