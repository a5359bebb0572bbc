"""Jobs in Redis: one Lua script per operation, leases in a zset, blocking waits on a notify list.

Keys of queue `name` (all share the literal hash tag `{name}`, so one queue lives in one
Redis Cluster slot): `{prefix}{name}` pending zset, `:delayed` zset scored by available_at,
`:reserved` zset scored by lease expiry, `:notify` list of wake-up tokens (one per ready
job) for BLPOP, `:seq` the counter that orders jobs, and `:done` the replay guard's zset of
completed payload signatures scored by when each marker expires (QUEUE_STATUS_TTL): the ack
writes it and the claim reads it in the same script, so the guard costs no round trip.

Priority: pending is a zset scored by -priority whose members start with a zero-padded
sequence number, so ZPOPMIN returns the highest priority first and FIFO within one
priority in O(log n), with one key per queue whatever priorities are used (a list per
priority would need keys not known in advance, which KEYS cannot declare).

Attempts live in the record header beside the signed payload (see LuaScripts), never
inside it; the payload is handed back byte for byte.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import redis
from redis.crc import key_slot

from app.Queue import LuaScripts
from app.Queue.contracts import PushItem, QueueSizes
from app.Queue.Redis.clients import close_client, is_cluster, make_client
from app.Queue.Redis.dispatch_writes import DispatchWrites, server_identity
from app.Queue.Redis.errors import translate_errors
from app.Queue.Redis.HeldConnection import NoReplyConnection, PackedHead, packed_head
from app.Queue.Redis.RedisRecord import RedisRecord
from app.Queue.Support.time import now

log = logging.getLogger("queue.redis")

# Jobs per chunk of a bulk (one ZADD and RPUSH): bounds a command's runtime and arguments, and is small enough
# that Redis stores one chunk while the dispatcher builds the next (bulk_stream).
STREAM_CHUNK = 250
_UNPACKED: Any = object()  # push_dispatch: no head packed yet for this queue and key count
_TOKENS = (1,) * STREAM_CHUNK  # wake-up tokens of a full chunk's ready jobs
CLUSTER_POLL = 1.0  # seconds: on Redis Cluster, how often a worker of several queues looks past the first
# Seconds between one driver's refreshes of a queue's done set (its TTL and expired markers): the
# acks in between only add their marker, two Redis calls fewer each (LuaScripts mark_done).
DONE_REFRESH = 2


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The Redis keys of one queue."""

    pending: str
    delayed: str
    reserved: str
    notify: str
    seq: str
    lost: str  # batch mode: per holder, BEGINs that found a reservation gone (read back by POP_MANY)
    done: str  # replay guard: signatures of completed payloads, scored by the marker's expiry

    @classmethod
    def of(cls, prefix: str, queue: str) -> QueueKeys:
        base = f"{prefix}{{{queue}}}"
        return cls(base, f"{base}:delayed", f"{base}:reserved", f"{base}:notify", f"{base}:seq", f"{base}:lost",
                   f"{base}:done")

    @property
    def for_pop(self) -> list[str]:
        return [self.pending, self.delayed, self.reserved, self.notify, self.seq]

    @property
    def for_claim(self) -> list[str]:
        return [*self.for_pop, self.done]

    @property
    def for_pop_many(self) -> list[str]:
        return [*self.for_pop, self.lost, self.done]


@dataclass(frozen=True, slots=True)
class _ClaimCall:
    """A claim script call ready to send, and the reader of its reply."""

    command: tuple[Any, ...]
    unpack: Callable[[Any], tuple[list[RedisJob], float | None]]


class _Chunk:
    """The records of one chunk of a queue being filled, and the queue's reserved sequence numbers."""

    __slots__ = ("seqs", "ready", "later", "size")

    def __init__(self, seqs: Iterator[int]) -> None:
        self.seqs = seqs
        self.ready: list[Any] = []
        self.later: list[Any] = []
        self.size = 0


class RedisJob:
    """A reserved job; its record (with the reservation's sequence number) proves it is still ours."""

    __slots__ = ("driver", "queue", "record", "payload", "attempts", "retry_after", "connection_name",
                 "replayed", "done_until")

    def __init__(self, driver: RedisQueue, queue: str, record: str, retry_after: float, replayed: bool = False) -> None:
        self.driver = driver
        self.queue = queue
        self.record = record
        self.payload, self.attempts = RedisRecord.payload_and_attempts(record)
        self.retry_after = retry_after
        self.connection_name = driver.connection_name
        self.replayed = replayed  # the claim found this exact payload completed (app/Queue/ReplayGuard.py)
        self.done_until: float | None = None  # set when the job completed: its ack leaves a done marker

    def completed(self, until: float) -> None:
        """Have this job's ack note its payload as done until `until` (unix seconds): the replay guard."""
        self.done_until = until

    def _done_arg(self) -> Any:
        return "" if self.done_until is None else self.done_until

    def delete(self) -> bool:
        """Remove the finished job (noting it done when it completed); False when the reservation was lost."""
        driver = self.driver
        command = self._ack_args(driver, now())
        with driver.errors:
            if self.done_until is None:
                return bool(driver.held.execute(*command))
            return bool(driver.held.evalsha(driver._ack, command))

    def release(self, delay: float = 0, undo_attempt: bool = False) -> bool:
        """Put the job back, available after `delay` seconds; `undo_attempt` un-counts this reservation."""
        t = now()
        args = [t, t + delay if delay > 0 else 0, self.record, 1 if undo_attempt else 0]
        with self.driver.errors:
            return bool(self.driver.held.script(self.driver._release, self.driver.keys(self.queue).for_pop, args))

    def renew(self) -> bool:
        """Extend the lease by retry_after; False when the reservation was lost."""
        with self.driver.errors:
            return bool(self.driver._renew(keys=[self.driver.keys(self.queue).reserved], args=[now() + self.retry_after, self.record]))

    def delete_and_pop(self, queues: Sequence[str], worker_id: str) -> RedisJob | None:
        """Delete this job and reserve the next one in one round trip when its queue comes first."""
        return self.driver.delete_and_pop(self, queues, worker_id)

    def _begin_args(self, t: float, ack: str = "", done: str = "") -> tuple[Any, ...]:
        """BEGIN's command for this job (acking the record `ack` of the same queue, with its done
        marker's expiry `done`); this job takes the record as BEGIN rewrites it."""
        driver = self.driver
        keys = driver._keys.get(self.queue) or driver.keys(self.queue)
        refresh = driver.done_refresh(self.queue, done) if done != "" else ""
        record = self.record
        self.record, self.attempts, holder = RedisRecord.begun(record)
        return ("EVALSHA", driver._begin.sha, 3, keys.reserved, keys.lost, keys.done,
                record, repr(t + self.retry_after), ack, holder, repr(t), done if done == "" else repr(done), refresh)

    def begin(self, finished: RedisJob | None = None) -> None:
        """Count this prefetched job's attempt and renew its lease as it starts (batch mode),
        acking `finished` in the same call.

        Sent without a reply into a corked socket (see NoReplyConnection): it reaches Redis even if
        the worker is killed next, and costs no wait. The BEGIN script itself refuses to touch
        a reservation that is no longer ours. The caller has made sure the lease is still fresh.
        """
        ack = ""
        if finished is not None and finished.queue != self.queue:  # another slot: ack it on its own
            finished.delete_nowait()
        elif finished is not None:
            ack = finished.record
        done = finished._done_arg() if ack else ""  # type: ignore[union-attr]
        with self.driver.errors:
            self.driver.held.send(*self._begin_args(now(), ack, done))

    def delete_nowait(self, via: RedisQueue | None = None) -> None:
        """Send the ack without waiting for a reply (batch mode); only a record still reserved is removed.

        `via`: another driver of the same connection whose held connection sends it (a thread acking
        jobs other threads claimed: app/Queue/Concurrency/Acker.py).
        """
        driver = via or self.driver
        with driver.errors:
            driver.held.send(*self._ack_args(driver, now()))

    def _ack_args(self, driver: RedisQueue, t: float) -> tuple[Any, ...]:
        """The command of an ack on `driver`'s connection (waited for or not): a plain ZREM of the
        reservation, or ACK when the replay guard's done marker goes with it."""
        keys = driver.keys(self.queue)
        if self.done_until is None:
            return ("ZREM", keys.reserved, self.record)
        return ("EVALSHA", driver._ack.sha, 2, keys.reserved, keys.done, self.record, repr(t), repr(self.done_until),
                driver.done_refresh(self.queue, self.done_until))


class RedisQueue:
    """QueueDriver and BlockingPop over redis-py; scripts are registered per instance."""

    def __init__(self, connection_name: str, config: Mapping[str, Any], retry_after: Callable[[str], float]) -> None:
        self.connection_name = connection_name
        self.config = dict(config)
        self._done_covered: dict[str, float] = {}  # per queue: how long the done set lives, as this driver last made it
        self.errors = _CommandErrors(self.config, self._done_covered)  # one per driver, not one per command
        self.retry_after = retry_after
        self.prefix = str(config.get("prefix") or "queues:")
        self.block_for = float(config.get("block_for") or 0)
        self.client = make_client(config)
        self.cluster = is_cluster(self.client)
        self._keys: dict[str, QueueKeys] = {}
        self._claim_heads: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}  # see _claim_head
        self._holders: dict[str, str] = {}
        self._dispatch = self.client.register_script(LuaScripts.DISPATCH)
        self._dispatch_head = ("EVALSHA", self._dispatch.sha)
        self._dispatch_packed: dict[tuple[str, int], PackedHead | None] = {}  # see push_dispatch
        self.server = server_identity(self.client)  # None on a cluster: no one-call dispatch there
        self._pop = self.client.register_script(LuaScripts.POP)
        self._delete_and_pop = self.client.register_script(LuaScripts.DELETE_AND_POP)
        self._pop_many = self.client.register_script(LuaScripts.POP_MANY)
        self._begin = self.client.register_script(LuaScripts.BEGIN)
        self._release = self.client.register_script(LuaScripts.RELEASE)
        self._ack = self.client.register_script(LuaScripts.ACK)
        self._renew = self.client.register_script(LuaScripts.RENEW)
        self._size = self.client.register_script(LuaScripts.SIZE)
        self._clear = self.client.register_script(LuaScripts.CLEAR)
        self._clear_records = self.client.register_script(LuaScripts.CLEAR_RECORDS)
        # BEGIN and batch-mode ACKs are sent without a reply, POP_MANY and DELETE_AND_POP ahead of
        # their reply and the claims behind a BLPOP, all by sha: loaded on every connect.
        self.held = NoReplyConnection(self.client, preload=[self._begin, self._pop_many, self._ack, self._pop,
                                                           self._delete_and_pop])
        self._pending = _PendingAckClaim(self)  # the one ack+claim sent ahead (send_delete_and_pop), reused

    def for_thread(self) -> RedisQueue:
        """A driver of the same connection for the calling thread: its own client and held connection.

        A concurrent worker's slot threads each claim and ack their own jobs on one
        (app/Queue/Reservations/SlotSources.py); a held connection serves only its owner thread.
        """
        return RedisQueue(self.connection_name, self.config, self.retry_after)

    @property
    def lane(self) -> Any:
        """The held connection under its former name."""
        return self.held

    def keys(self, queue: str) -> QueueKeys:
        """Get the keys of `queue` (cached)."""
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys.of(self.prefix, queue)
        return keys

    def done_refresh(self, queue: str, until: float) -> Any:
        """mark_done's refresh argument for a marker of `queue` that lives until `until`: DONE_REFRESH
        when the done set's TTL, as this driver last stretched it, may end before `until`, else ''.

        A refresh makes the set outlive `until` + DONE_REFRESH, so the markers this driver notes
        next (at QUEUE_STATUS_TTL from their ack) ride on it for DONE_REFRESH seconds.
        """
        if until <= self._done_covered.get(queue, -1.0):
            return ""
        self._done_covered[queue] = until + DONE_REFRESH
        return DONE_REFRESH

    # -- writes -----------------------------------------------------------------------
    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        self.push_dispatch(PushItem(payload, queue, delay, priority), None)

    def dispatch_writes(self) -> DispatchWrites | None:
        """Open the gathering of one dispatch's status and unique lock (see redis/dispatch_writes.py);
        None on a cluster, where the status and lock keys live in other slots than the queue."""
        return None if self.server is None else DispatchWrites(self.server)

    def push_dispatch(self, item: PushItem, writes: DispatchWrites | None) -> bool:
        """Store one job with the status and lock `writes` gathered, in one script call (DISPATCH).

        False when another live owner holds the unique lock: then nothing was written.
        """
        k = self._keys.get(item.queue) or self.keys(item.queue)
        priority = int(item.priority)
        t = now() if item.delay > 0 else 0.0
        if item.delay > 0 and t + item.delay > t:  # (a delay lost in rounding: ready now, as before)
            where: tuple[Any, ...] = (k.delayed, k.seq, k.notify)
            score: Any = t + item.delay
            ready = ""
        else:
            where = (k.pending, k.seq, k.notify)
            score = -priority if priority else "-0"  # _pending_score, spelt out
            ready = "1"
        status = writes.status if writes is not None else None
        lock = writes.lock if writes is not None else None
        keys: tuple[Any, ...] = where
        tail: tuple[Any, ...] = ()
        if status is not None:
            keys, tail = (*keys, status.key), (status.value, status.px)
        if lock is not None:
            keys, tail = (*keys, lock.key), (*tail, lock.value, lock.now_ms, lock.px)
        command = (*self._dispatch_head, len(keys), *keys, score, priority, item.payload, ready, *tail)
        head = self._dispatch_packed.get((where[0], len(keys)), _UNPACKED)
        if head is _UNPACKED:  # EVALSHA, sha, the key count and the queue's three keys: packed once per queue
            head = self._dispatch_packed[(where[0], len(keys))] = packed_head(command[:6])
        with self.errors:
            return bool(self.held.evalsha(self._dispatch, command, head))

    def bulk(self, items: Sequence[PushItem]) -> None:
        """Push many jobs: one ZADD and RPUSH per queue and chunk, all pipelined on one connection."""
        counts: dict[str, int] = {}
        for item in items:
            counts[item.queue] = counts.get(item.queue, 0) + 1
        self.bulk_stream(items, counts)

    def bulk_stream(self, items: Iterable[tuple[str, str, float, int]], counts: Mapping[str, int]) -> None:
        """Push jobs as `items` yields them: each full chunk is sent at once, so Redis stores it
        while the caller builds the next; returns once Redis has answered for every chunk.

        `counts` (jobs per queue) lets one round trip take every sequence number up front, so
        records are built here and the script only adds them.
        """
        with self.errors:
            seqs = self._reserve_seqs(counts)
            self.held.send_all(self._push_calls(items, seqs, now()))

    def _reserve_seqs(self, counts: Mapping[str, int]) -> dict[str, Iterator[int]]:
        """Take `counts[q]` numbers from each queue's counter in one round trip (gaps are harmless)."""
        wanted = [(q, n) for q, n in counts.items() if n > 0]
        lasts = self.held.send_all([("INCRBY", self.keys(q).seq, n) for q, n in wanted])
        return {q: iter(range(int(last) - n + 1, int(last) + 1)) for (q, n), last in zip(wanted, lasts)}

    def _push_calls(self, items: Iterable[tuple[str, str, float, int]], seqs: dict[str, Iterator[int]], t: float) -> Iterator[tuple[Any, ...]]:
        """The commands that store the records, one group per queue and STREAM_CHUNK jobs (`_chunk_commands`)."""
        chunks: dict[str, _Chunk] = {}
        new = RedisRecord.new
        for payload, queue, delay, priority in items:
            chunk = chunks.get(queue)
            if chunk is None:
                chunk = chunks[queue] = _Chunk(seqs.get(queue, iter(())))
            seq = next(chunk.seqs, None)
            if seq is None:  # more jobs than announced: another connection, as the held one has replies in flight
                seq = int(self.client.incrby(self.keys(queue).seq, 1))
            if delay > 0:
                chunk.later += (t + delay, new(seq, priority, payload))
            else:
                chunk.ready += (-priority, new(seq, priority, payload))
            chunk.size += 1
            if chunk.size == STREAM_CHUNK:
                yield from self._chunk_commands(queue, chunk)
                chunks[queue] = _Chunk(chunk.seqs)
        for queue, chunk in chunks.items():
            if chunk.size:
                yield from self._chunk_commands(queue, chunk)

    def _chunk_commands(self, queue: str, chunk: _Chunk) -> list[tuple[Any, ...]]:
        """ZADD of the ready records with one RPUSH of their wake-up tokens after it, ZADD of the delayed ones.

        Plain commands, not a script: Redis spends ~1.3 us less per job than on a script that
        gets the same records as arguments (copied into Lua and back). Not atomic, and need not
        be: a worker that pops a job before its token is pushed tops its tokens up itself, and
        the surplus is trimmed on a later pop (LuaScripts sync_notify): no job waits, none runs twice.
        """
        k = self.keys(queue)
        commands: list[tuple[Any, ...]] = []
        if chunk.ready:
            commands += (("ZADD", k.pending, *chunk.ready), ("RPUSH", k.notify, *_TOKENS[:len(chunk.ready) // 2]))
        if chunk.later:
            commands.append(("ZADD", k.delayed, *chunk.later))
        return commands

    def clear(self, queue: str) -> int:
        k = self.keys(queue)
        with self.errors:
            return int(self._clear(keys=[k.pending, k.delayed, k.reserved, k.notify, k.lost]))

    def clear_payloads(self, queue: str) -> list[str]:
        """Delete every job of `queue` atomically and return their payloads (queue:clear marks them cancelled)."""
        k = self.keys(queue)
        with self.errors:
            records = self._clear_records(keys=[k.pending, k.delayed, k.reserved, k.notify, k.lost])
        texts = [r.decode("utf-8", "replace") if isinstance(r, bytes) else str(r) for r in records or ()]
        return [r.payload for r in map(RedisRecord.parse, texts) if r is not None]

    # -- reservations -------------------------------------------------------------------
    def pop(self, queue: str, worker_id: str) -> RedisJob | None:
        """Reserve the next available job of `queue` (highest priority, then oldest)."""
        return self._pop_one(queue, worker_id)[0]

    def _pop_one(self, queue: str, worker_id: str) -> tuple[RedisJob | None, float | None]:
        """Reserve one job, or say when the next delayed job or lease comes due."""
        lease = float(self.retry_after(queue))
        t = now()
        head = self._claim_heads.get(queue) or self._claim_head(queue)
        with self.errors:
            reply = self.held.evalsha(self._pop, (*head[0], t, t + lease, self._holder(worker_id)))
        return self._unpack_pop(queue, reply, lease)

    def _claim_head(self, queue: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The constant start of `queue`'s POP and DELETE_AND_POP commands (EVALSHA, sha, keys), kept per queue."""
        keys = self.keys(queue).for_claim
        head = self._claim_heads[queue] = (("EVALSHA", self._pop.sha, len(keys), *keys),
                                           ("EVALSHA", self._delete_and_pop.sha, len(keys), *keys))
        return head

    def _holder(self, worker_id: str) -> str:
        """The holder field for `worker_id` (a '|' would break the record's framing), kept per worker id."""
        holder = self._holders.get(worker_id)
        if holder is None:
            holder = self._holders[worker_id] = _holder(worker_id)
        return holder

    def _unpack_pop(self, queue: str, reply: Any, lease: float) -> tuple[RedisJob | None, float | None]:
        """Read POP's reply: the job reserved, else when the next delayed job or lease comes due."""
        if reply[0] is not None:
            return RedisJob(self, queue, reply[0], lease, reply[1] == 1), None
        return None, float(reply[1]) if reply[1] is not None else None

    def delete_and_pop(self, job: RedisJob, queues: Sequence[str], worker_id: str) -> RedisJob | None:
        """Ack `job` and reserve the next job; one script call when `job`'s queue is the first queue."""
        if not queues or queues[0] != job.queue:
            job.delete()
            return self._pop_first(queues, worker_id)[0]
        command, lease = self._ack_claim_command(job, worker_id)
        with self.errors:
            reply = self.held.evalsha(self._delete_and_pop, command)
        return self._ack_claimed(job, queues, worker_id, reply, lease)

    def send_delete_and_pop(self, job: RedisJob, queues: Sequence[str], worker_id: str) -> Callable[[], RedisJob | None]:
        """`delete_and_pop`, sent now and read later: the ack and claim are on their way when this returns,
        and the returned reader waits for the reply and gives the next job (or None).

        Until the reader is called nothing else should use this driver's held connection (what does
        still gets its answers in order, after this reply). A reply lost with the connection is sent
        again by the reader on a new one, as a failed `delete_and_pop` is: the script deletes only a
        reservation still ours, and a job a lost reply had reserved comes back after its lease.
        """
        if not queues or queues[0] != job.queue:  # more than one call: no reply to leave pending
            claimed = self.delete_and_pop(job, queues, worker_id)
            return lambda: claimed
        pending = self._pending
        pending.reset(job, queues, worker_id, *self._ack_claim_command(job, worker_id))
        with self.errors:
            self.held.request(*pending.command, on_reply=pending.arrived, on_error=pending.refused)
        return pending.read

    def _ack_claim_command(self, job: RedisJob, worker_id: str) -> tuple[tuple[Any, ...], float]:
        """DELETE_AND_POP's command acking `job` and claiming from its queue, and the new lease's length."""
        queue = job.queue
        lease = float(self.retry_after(queue))
        t = now()
        done = job.done_until
        head = self._claim_heads.get(queue) or self._claim_head(queue)
        return (*head[1], repr(t), repr(t + lease), self._holder(worker_id), job.record,
                *(("", "") if done is None else (repr(done), self.done_refresh(queue, done)))), lease

    def _ack_claimed(self, job: RedisJob, queues: Sequence[str], worker_id: str, reply: Any, lease: float) -> RedisJob | None:
        """Read DELETE_AND_POP's reply: warn when the ack found the reservation gone; the job claimed,
        else one of the other queues."""
        if not reply[0]:
            log.warning("job on %s finished after its reservation was lost; it may run again", job.queue)
        if reply[1] is not None:
            return RedisJob(self, job.queue, reply[1], lease, reply[2] == 1)
        return self._pop_first(queues[1:], worker_id)[0] if len(queues) > 1 else None

    def _pop_first(self, queues: Sequence[str], worker_id: str) -> tuple[RedisJob | None, float | None]:
        wake: float | None = None
        for queue in queues:
            job, due = self._pop_one(queue, worker_id)
            if job is not None:
                return job, None
            if due is not None and (wake is None or due < wake):
                wake = due
        return None, wake

    def pop_blocking(self, queues: Sequence[str], worker_id: str, timeout: float) -> RedisJob | None:
        """Reserve from the first non-empty queue, blocking on the notify lists (BLPOP) up to `timeout`.

        The connection's `block_for` (REDIS_BLOCK_FOR, seconds) caps one call's wait, so a worker
        started with a long --sleep still looks at its stop and restart flags that often.
        """
        jobs = self._wait_for(queues, timeout, lambda: self._first_job(queues, worker_id),
                              lambda wait: self._claim_call(self._pop, queues[0], worker_id, wait))
        return jobs[0] if jobs else None

    def pop_many(self, queues: Sequence[str], worker_id: str, limit: int, timeout: float = 0) -> list[RedisJob]:
        """Reserve up to `limit` jobs of the first non-empty queue in one script call (batch mode).

        Each job gets its own lease from now; waits like `pop_blocking` when `timeout` > 0.
        """
        limit = max(1, int(limit))
        return self._wait_for(queues, timeout, lambda: self._take_many(queues, worker_id, limit),
                              lambda wait: self._claim_call(self._pop_many, queues[0], worker_id, wait, limit))

    def reserve_ahead(self, queue: str, worker_id: str, limit: int, deliver: Callable[[list[RedisJob]], None]) -> None:
        """Send a batch reservation of `queue` without waiting; `deliver` gets the jobs when the
        reply is read (at `collect_reserved_ahead` or this connection's next command), so the round trip overlaps work."""
        lease = float(self.retry_after(queue))
        t = now()

        def reply(raw: Any) -> None:
            deliver(self._unpack_batch(queue, raw, lease)[0])

        with self.errors:
            self.held.request("EVALSHA", self._pop_many.sha, 7, *self.keys(queue).for_pop_many, t, t + lease,
                              self._holder(worker_id), max(1, int(limit)), on_reply=reply)

    def begin_many(self, jobs: Sequence[RedisJob]) -> None:
        """Start several reserved jobs (count their attempts, renew their leases) in one write without
        a reply, as `RedisJob.begin` does one by one: a batch whose jobs all start now."""
        t = now()
        with self.errors:
            self.held.send_many([job._begin_args(t) for job in jobs])

    def begin_held(self, job: RedisJob, finished: RedisJob | None = None) -> None:
        """Start `job`, reserved by another driver of this connection, on this driver's held connection (the
        calling thread's), acking `finished` with it: the job is this driver's from now on, so its ack and
        release follow its BEGIN on the same connection (a concurrent worker's slot thread, StartsHeldJobs)."""
        job.driver = self
        job.begin(finished)

    def flush(self) -> None:
        """Wait until every command sent on the held connection has been applied (one round trip)."""
        with self.errors:
            self.held.execute("PING")

    def ack_many_nowait(self, jobs: Sequence[RedisJob]) -> None:
        """Ack several finished jobs (of any driver of this connection) in one write without a reply,
        as `RedisJob.delete_nowait` does one by one."""
        t = now()
        with self.errors:
            self.held.send_many([job._ack_args(self, t) for job in jobs])

    def collect_reserved_ahead(self) -> None:
        """Read the reply of a reservation made ahead (`reserve_ahead`), handing its jobs to their callback."""
        with self.errors:
            self.held.sync()

    def _first_job(self, queues: Sequence[str], worker_id: str) -> tuple[list[RedisJob], float | None]:
        job, wake = self._pop_first(queues, worker_id)
        return ([job] if job is not None else []), wake

    def pop_many_started(self, queues: Sequence[str], worker_id: str, limit: int) -> list[RedisJob]:
        """Reserve and start up to `limit` jobs of the first non-empty queue in one round trip, without waiting:
        the claim counts their attempts (no BEGIN each), for a caller that starts every job it claims at once
        (a concurrent worker's batch of async jobs, whose acks go out on another connection)."""
        return self._take_many(queues, worker_id, max(1, int(limit)), started=True)[0]

    def _take_many(self, queues: Sequence[str], worker_id: str, limit: int,
                   started: bool = False) -> tuple[list[RedisJob], float | None]:
        wake: float | None = None
        holder = self._holder(worker_id)
        for queue in queues:
            lease = float(self.retry_after(queue))
            t = now()
            args = [t, t + lease, holder, limit, 1] if started else [t, t + lease, holder, limit]
            with self.errors:
                reply = self.held.script(self._pop_many, self.keys(queue).for_pop_many, args)
            jobs, due = self._unpack_batch(queue, reply, lease)
            if jobs:
                return jobs, None
            if due is not None and (wake is None or due < wake):
                wake = due
        return [], wake

    def _unpack_batch(self, queue: str, reply: Any, lease: float) -> tuple[list[RedisJob], float | None]:
        """Read POP_MANY's reply: report lost reservations, then the jobs or the next wake-up time."""
        lost_starts, lost_acks = int(reply[0]), int(reply[1])
        if lost_starts:
            log.warning("%d prefetched jobs on %s lost their reservation before they started; another worker "
                        "may have run them too", lost_starts, queue)
        if lost_acks:
            log.warning("%d jobs on %s finished after their reservation was lost; they may run again", lost_acks, queue)
        if reply[2] is not None:
            flags = str(reply[2])
            return [RedisJob(self, queue, record, lease, flags[i:i + 1] == "1") for i, record in enumerate(reply[3:])], None
        return [], float(reply[3]) if reply[3] is not None else None

    def _claim_call(self, script: Any, queue: str, worker_id: str, wait: float, limit: int = 0) -> _ClaimCall:
        """The claim of `queue` to send behind a BLPOP of `wait` seconds, and how to read its reply.

        It runs when the BLPOP returns, up to `wait` seconds after `now()` was taken here, so its
        lease runs until now + wait + the lease: never shorter than the lease from the claim, and at
        most `wait` (REDIS_BLOCK_FOR caps it) longer. Its `now` is older than the claim: due delayed
        jobs and expired leases it does not see yet are moved on by the next claim.
        """
        lease = float(self.retry_after(queue))
        t = now()
        args: list[Any] = [t, t + wait + lease, self._holder(worker_id)]
        if script is self._pop_many:
            keys = self.keys(queue).for_pop_many
            args.append(limit)
            return _ClaimCall(("EVALSHA", script.sha, len(keys), *keys, *args),
                              lambda reply: self._unpack_batch(queue, reply, lease))
        keys = self.keys(queue).for_claim

        def unpack(reply: Any) -> tuple[list[RedisJob], float | None]:
            job, wake = self._unpack_pop(queue, reply, lease)
            return ([job] if job is not None else []), wake

        return _ClaimCall(("EVALSHA", script.sha, len(keys), *keys, *args), unpack)

    def _wait_for(self, queues: Sequence[str], timeout: float,
                  take: Callable[[], tuple[list[RedisJob], float | None]],
                  claim: Callable[[float], _ClaimCall] | None = None) -> list[RedisJob]:
        """Call `take` until it reserves something, blocking on the notify lists between tries.

        With one queue (not on a cluster), the claim after a wait is sent with the BLPOP (`claim`):
        Redis runs it the moment the BLPOP returns, so an idle worker starts a new job one round
        trip after it is dispatched instead of two.
        """
        budget = max(float(timeout), 0.0)
        if self.block_for > 0:
            budget = min(budget, self.block_for)
        notify = [self.keys(q).notify for q in queues]
        if self.cluster and len({key_slot(k.encode()) for k in notify}) > 1:
            # One BLPOP may only name keys of one slot: wait on the first queue's list, and look
            # at the others at least every CLUSTER_POLL seconds.
            notify = notify[:1]
            budget = min(budget, CLUSTER_POLL)
        woke_on: str | None = None
        pipelined = claim is not None and len(queues) == 1 and not self.cluster
        taken: tuple[list[RedisJob], float | None] | None = None
        while True:
            jobs, wake = take() if taken is None else taken
            taken = None
            if jobs:
                if woke_on is not None and woke_on != self.keys(jobs[0].queue).notify:
                    with self.errors:
                        self.client.rpush(woke_on, 1)  # we took a higher-priority job: pass the token on
                return jobs
            if budget <= 0:
                return []
            wait = budget if wake is None else min(budget, max(wake - now(), 0.0) + 0.001)
            wait = max(wait, 0.001)  # BLPOP 0 would block forever
            started = time.monotonic()
            with self.errors:
                if pipelined:
                    assert claim is not None
                    woke, taken = self._wait_then_claim(notify, wait, claim(wait))
                else:
                    woke = self.client.blpop(notify, timeout=wait)
            # A timed-out wait spends its whole length (freezegun may stop the monotonic clock).
            budget -= wait if woke is None else time.monotonic() - started
            woke_on = woke[0] if woke is not None else None

    def _wait_then_claim(self, notify: list[str], wait: float,
                         call: _ClaimCall) -> tuple[Any, tuple[list[RedisJob], float | None] | None]:
        """BLPOP and the claim in one round trip. When the server lost the script (a SCRIPT FLUSH),
        the outcome is None and the wait counts as woken: the caller claims the plain way at once."""
        try:
            woke, reply = self.held.send_all([("BLPOP", *notify, wait), call.command])
        except redis.exceptions.NoScriptError:
            return (notify[0], "1"), None
        return woke, call.unpack(reply)

    # -- reads ----------------------------------------------------------------------------
    def sizes(self, queue: str) -> QueueSizes:
        k = self.keys(queue)
        with self.errors:
            pending, delayed, reserved = self._size(keys=[k.pending, k.delayed, k.reserved], args=[now()])
        return QueueSizes(int(pending), int(delayed), int(reserved))

    def queues(self) -> list[str]:
        """Name the queues that hold jobs (pending, delayed or reserved)."""
        names: set[str] = set()
        start = len(self.prefix) + 1
        with self.errors:
            for key in self.client.scan_iter(match=f"{_glob_escape(self.prefix)}{{*", count=1000):
                body = key[start:]
                for suffix in ("}", "}:delayed", "}:reserved"):
                    if body.endswith(suffix):
                        names.add(body[: -len(suffix)])
                        break
        return sorted(names)

    def reserved(self, queue: str) -> list[dict[str, Any]]:
        """List held reservations of `queue` (holder, attempts, lease expiry), for monitoring."""
        with self.errors:
            rows: Any = self.client.zrange(self.keys(queue).reserved, 0, -1, withscores=True)
        out = []
        for record, expiry in rows:
            fields = RedisRecord.parse(record)
            if fields is None:  # a member without the driver's framing
                out.append({"id": "?", "queue": queue, "reserved_by": "?", "attempts": 0, "expires_at": expiry})
                continue
            out.append({"id": fields.seq, "queue": queue, "reserved_by": fields.holder, "attempts": fields.attempts,
                        "expires_at": expiry})
        return out

    def close(self) -> None:
        self.held.close()
        close_client(self.client)


_UNREAD = object()  # a pending reply not read yet


class _PendingAckClaim:
    """A DELETE_AND_POP sent ahead (`RedisQueue.send_delete_and_pop`) and its reply, read by `read`.

    One per driver, reset for each call (at most one is pending: it is read before the next is sent),
    with its bound methods made once: this runs once per job."""

    __slots__ = ("driver", "job", "queues", "worker_id", "command", "lease", "reply", "error",
                 "arrived", "refused", "read")

    def __init__(self, driver: RedisQueue) -> None:
        self.driver = driver
        self.job: Any = None
        self.queues: Sequence[str] = ()
        self.worker_id = ""
        self.command: tuple[Any, ...] = ()
        self.lease = 0.0
        self.reply: Any = _UNREAD
        self.error: Exception | None = None
        self.arrived: Callable[[Any], None] = self._arrived
        self.refused: Callable[[Exception], None] = self._refused
        self.read: Callable[[], RedisJob | None] = self._read

    def reset(self, job: RedisJob, queues: Sequence[str], worker_id: str, command: tuple[Any, ...], lease: float) -> None:
        self.job, self.queues, self.worker_id, self.command, self.lease = job, queues, worker_id, command, lease
        self.reply, self.error = _UNREAD, None

    def _arrived(self, reply: Any) -> None:
        self.reply = reply

    def _refused(self, exc: Exception) -> None:
        self.error = exc

    def _read(self) -> RedisJob | None:
        """Wait for the reply and return the job it claimed (or the next queue's); a reply lost with the
        connection, or a script the server lost, is sent again and waited for, as `delete_and_pop` does."""
        driver = self.driver
        try:
            driver.held.sync()
        except (redis.ConnectionError, redis.TimeoutError):
            pass  # the reply went with the connection: sent again below
        error, reply = self.error, self.reply
        if error is not None and not isinstance(error, redis.exceptions.NoScriptError):
            with driver.errors:
                raise error
        job, self.job = self.job, None  # let the finished job go
        if reply is _UNREAD:
            with driver.errors:
                reply = driver.held.evalsha(driver._delete_and_pop, self.command)
        return driver._ack_claimed(job, self.queues, self.worker_id, reply, self.lease)


class _CommandErrors(translate_errors):
    """translate_errors for one driver's commands, which also forgets the driver's done-set refreshes
    when a command fails: it may have carried one that never ran, so the next ack refreshes again."""

    __slots__ = ("covered",)

    def __init__(self, config: Mapping[str, Any], covered: dict[str, float]) -> None:
        super().__init__(config)
        self.covered = covered

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None:
            self.covered.clear()
        return super().__exit__(exc_type, exc, tb)


def _holder(worker_id: str) -> str:
    return worker_id.replace("|", "/")


def _pending_score(priority: int) -> str | int:
    """A ready job's score in pending, as DISPATCH used to compute it in Lua (-priority; "-0" for 0)."""
    return -priority if priority else "-0"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

