"""Drop a record that replays a payload which already completed, instead of running it again.

Attempts live outside the signature (the store counts them), so a signed payload copied back
into the store is indistinguishable from a fresh one by its bytes alone. What tells them apart
is history: when a job completes, the worker notes the payload's signature in the job's status
record (`status:<uuid>`, kept QUEUE_STATUS_TTL). A record whose uuid completed with that same
signature is a replay (or a redelivery after a crash between completion and ack) and is deleted
unrun. A job dispatched again under the same uuid has a new createdAt, hence a new signature,
and runs. Cost: one status read per job (the write rides on the completion status already sent).

A driver whose reservations carry `replayed` and `completed(until)` (Redis) keeps the history
itself: the ack script notes the signature in a per-queue done set, and the claim script looks
it up, so the guard adds no round trip. Its answer is trusted for a first attempt on the queue
its payload names; a payload planted on another queue, and a later attempt (a redelivery after
an ack that never reached the store, a retry), are still checked against the status record.
Payloads this process completed are also remembered in memory (bounded), which covers a copy
held in the same prefetched batch as its original.
"""
from __future__ import annotations

import json
import logging
import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from app.Queue.events import JobProcessed
from app.Queue.Payload import SIG_SUFFIX_LEN
from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.worker")

DONE_FIELD = "done_sig"
RECENT_LIMIT = 4096  # signatures of payloads this process completed, remembered in memory


def _recent(manager: QueueManager) -> OrderedDict[str, None]:
    """The manager's insertion-ordered set of recently completed signatures (OrderedDict: O(1) eviction
    of the oldest, where a dict's first key gets slower to find after each deletion at its front)."""
    recent = getattr(manager, "_replay_recent", None)
    if recent is None:
        recent = manager._replay_recent = OrderedDict()  # type: ignore[attr-defined]
    return recent


def payload_signature(raw: Any) -> str | None:
    """The hex HMAC at the end of a verified payload."""
    if isinstance(raw, (bytes, bytearray)):
        tail = raw[-SIG_SUFFIX_LEN:]
        if len(tail) == SIG_SUFFIX_LEN and tail.isascii():  # an ASCII tail is the same text decoded alone
            return tail[-66:-2].decode("ascii")
        raw = bytes(raw).decode("utf-8", "replace")
    return raw[-66:-2] if isinstance(raw, str) and len(raw) >= SIG_SUFFIX_LEN else None


def is_replay(manager: QueueManager, job: Job, raw: Any, reserved: Any = None) -> bool:
    """True when this exact payload already completed; remembers its signature on the job otherwise."""
    signature = payload_signature(raw)
    job._payload_signature = signature  # type: ignore[attr-defined]
    if not signature:
        return False
    if signature in _recent(manager):
        return True
    marks = getattr(reserved, "completed", None)
    if marks is not None:
        job._replay_reserved = reserved  # type: ignore[attr-defined]
        if reserved.replayed:
            return True
        if job.queue == reserved.queue and reserved.attempts <= 1:
            return False  # a first attempt: the claim script looked at this queue's done set
    if not job.job_id or not manager.statuses.enabled:
        return False
    record = _reader(manager).read(job.job_id, reserved)
    return isinstance(record, dict) and record.get("state") == "completed" and record.get(DONE_FIELD) == signature


class HeldStatusReader:
    """Read `status:<uuid>` from the cache table on a DBAPI connection kept per thread.

    The check runs once per job: through the store's own `get` (a pooled connection and a
    Core statement per call) it tripled a no-op job's cost on SQLite; a held connection and a
    statement compiled once cost a few microseconds. Buffered writes are looked at first;
    any error drops the connection and reads through the repository as usual.

    On MySQL/MariaDB that read is a round trip of its own, so the first time a job of a driver on
    this same database is checked, the driver is asked to read the record with each claim
    (`read_statuses_with_claims`); a job that arrives with the record for its own key
    (`status_read`) is checked against it with no further read.
    """

    def __init__(self, manager: QueueManager) -> None:
        from sqlalchemy import bindparam, select

        # lazy: SQLAlchemy only for the database replay guard
        from app.Queue.Database.connection import Prepared
        from app.Queue.Database.tables import cache
        from app.Queue.Drivers.DatabaseQueue import DatabaseQueue

        self.statuses = manager.statuses
        store = self.statuses.store
        self.engine, self.prefix = store.engine, store.prefix  # type: ignore[attr-defined]
        self.query = Prepared(select(cache.c.value, cache.c.expiration).where(cache.c.key == bindparam("k")),
                              self.engine.dialect)
        self._local = threading.local()
        self._database_queue = DatabaseQueue  # kept here: the module-level import would load SQLAlchemy on Redis workers
        self._asked: weakref.WeakSet[Any] = weakref.WeakSet()  # drivers already asked to read with their claims

    def read(self, job_id: str, reserved: Any = None) -> dict[str, Any] | None:
        buffered = self.statuses.unwritten(job_id)
        if buffered is not None:
            return buffered
        key = self.prefix + self.statuses.key(job_id)
        known = getattr(reserved, "status_read", None)
        if known is not None and known[0] == key:
            return self._record(known[1:] if known[1] is not None else None)
        self._ask_claims(reserved)
        try:
            row = self._fetch(key)
        except Exception:
            self._drop()
            return self.statuses.raw(job_id)
        return self._record(row)

    def _ask_claims(self, reserved: Any) -> None:
        """Ask the driver of `reserved`, once, to read status records with its claims when its tables
        live in the database of the status store."""
        driver = getattr(reserved, "driver", None)
        if not isinstance(driver, self._database_queue) or driver in self._asked:
            return
        self._asked.add(driver)
        if str(driver.engine.url) == str(self.engine.url):
            driver.read_statuses_with_claims(self.prefix + self.statuses.key(""))

    def _record(self, row: Any) -> dict[str, Any] | None:
        """The status record of a (value, expiration) row, or None when absent, expired or unreadable."""
        if row is None or float(row[1]) <= now():
            return None
        try:
            data = json.loads(row[0])
        except (TypeError, ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    def _fetch(self, key: str) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.raw_connection()
            if self.engine.dialect.name != "sqlite":
                conn.driver_connection.autocommit(True)  # each read sees the latest commit (no snapshot)
            self._local.conn = conn
        cursor = conn.cursor()
        try:
            cursor.execute(self.query.sql, self.query.args({"k": key}))
            return cursor.fetchone()
        finally:
            cursor.close()

    def _drop(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:
                pass


class StoreStatusReader:
    """Read status records through the repository (the Redis store's GET is already one cheap round trip)."""

    def __init__(self, manager: QueueManager) -> None:
        self.statuses = manager.statuses

    def read(self, job_id: str, reserved: Any = None) -> dict[str, Any] | None:
        return self.statuses.raw(job_id)


def _reader(manager: QueueManager) -> HeldStatusReader | StoreStatusReader:
    """The manager's status reader, built once (held connection when statuses live in the cache table)."""
    reader = getattr(manager, "_replay_reader", None)
    if reader is None or reader.statuses is not manager.statuses:
        # lazy: SQLAlchemy only for the database replay guard
        from app.Queue.Cache.DatabaseStore import DatabaseStore

        store = manager.statuses.store
        reader = HeldStatusReader(manager) if isinstance(store, DatabaseStore) else StoreStatusReader(manager)
        manager._replay_reader = reader  # type: ignore[attr-defined]
    return reader


def on_processed(manager: QueueManager, event: JobProcessed) -> None:
    """Note the completed payload's signature beside the job's completed status, in memory, and
    on the reservation (whose ack then writes the driver's done marker)."""
    signature = getattr(event.job, "_payload_signature", None)
    if not signature:
        return
    recent = _recent(manager)
    recent[signature] = None
    if len(recent) > RECENT_LIMIT:
        try:
            recent.popitem(last=False)
        except KeyError:  # another thread emptied it meanwhile
            pass
    reserved = getattr(event.job, "_replay_reserved", None)
    if reserved is not None:
        reserved.completed(now() + manager.statuses.ttl)
    if event.job.job_id:
        manager.statuses.annotate(event.job.job_id, **{DONE_FIELD: signature})


def register(manager: QueueManager) -> None:
    """Wire the completion listener into `manager`."""
    manager.events.listen(JobProcessed, lambda event: on_processed(manager, event))
