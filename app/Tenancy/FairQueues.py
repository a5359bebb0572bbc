"""Fair sharing of a queue between tenants: one sub-queue per tenant, served in weighted round robin.

For a queue named in config/queue.py `tenancy.fair_queues` (QUEUE_FAIR_QUEUES, `*` for all), a
job is stored on `{queue}@{tenant}` (`{queue}@` when it names no tenant), on any driver. A worker
that works `{queue}` takes the next job from the tenants' sub-queues in turn, tenant `t` getting
`weights[t]` (default 1) consecutive turns. So one tenant's 100,000 jobs cannot starve another's
10: with T tenants holding jobs and weights w, a job at the head of its tenant's sub-queue starts
after at most sum(w of the other tenants) jobs of other tenants — for two tenants of weight 1, the
other tenant's k-th job starts by the 2k-th job the worker takes. A tenant that appears while
the worker runs is seen within `refresh_seconds` (1 s) or as soon as the known ones run dry.

Size, clear and queues on `{queue}` cover all of its sub-queues; `{queue}@{tenant}` names one
tenant's share (queue:stats --tenant, queue:clear --tenant). Batch reservation (--prefetch) is
not offered on a connection with fair queues: every reservation consults the rotation.
"""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from app.Queue.contracts import PushItem, QueueSizes, ReservedJob
from app.Queue.Connectors import DEFAULT_CONNECTORS
from app.Queue.contracts import BlockingPop

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

SEPARATOR = "@"
# Driver abilities that would bypass the tenant sub-queues: the wrapper does not offer them (the
# one-call dispatch would store the record on the parent queue, not the tenant's).
_NOT_PASSED = frozenset({"bulk_stream", "pop_many", "reserve_ahead", "collect_reserved_ahead", "pop_blocking", "clear_payloads",
                         "dispatch_writes", "push_dispatch"})


def tenant_queue(queue: str, tenant: str | None) -> str:
    """The sub-queue holding `tenant`'s jobs of `queue`."""
    return f"{queue}{SEPARATOR}{tenant or ''}"


def payload_tenant(payload: str) -> str | None:
    """The `tenant` member of an (untrusted) payload's envelope."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError):
        return None
    value = data.get("tenant") if isinstance(data, dict) else None
    return None if value is None else str(value)


class Rotation:
    """Weighted round robin over the tenants of one queue."""

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.weights = weights
        self.tenants: list[str] = []
        self.index = 0
        self.turns_left = 0
        self.refreshed = 0.0

    def set_tenants(self, tenants: Iterable[str]) -> None:
        current = self.tenants[self.index] if self.tenants else None
        self.tenants = sorted(set(tenants))
        self.index = self.tenants.index(current) if current in self.tenants else 0
        self.refreshed = time.monotonic()

    def order(self) -> list[str]:
        """The tenants in the order to try now: the current one (while it has turns), then the rest."""
        n = len(self.tenants)
        return [self.tenants[(self.index + i) % n] for i in range(n)]

    def served(self, tenant: str) -> None:
        """Count a turn for `tenant`; move on once its weight is used up."""
        if tenant not in self.tenants:
            return
        i = self.tenants.index(tenant)
        if i != self.index:
            self.index, self.turns_left = i, 0
        if self.turns_left <= 0:
            self.turns_left = max(1, int(self.weights.get(tenant, 1)))
        self.turns_left -= 1
        if self.turns_left == 0:
            self.index = (self.index + 1) % len(self.tenants)


class FairDriver:
    """Wraps a queue driver: fair queues are split per tenant; everything else passes through."""

    def __init__(self, inner: Any, fair: Sequence[str], weights: Mapping[str, int], refresh_seconds: float = 1.0) -> None:
        self.inner = inner
        self.connection_name = inner.connection_name
        self.fair_all = "*" in fair
        self.fair = set(fair)
        self.weights = weights
        self.refresh_seconds = refresh_seconds
        self._rotations: dict[str, Rotation] = {}

    def __getattr__(self, name: str) -> Any:  # engine, client, keys, reserved(), ... of the wrapped driver
        if name in _NOT_PASSED:  # they would bypass the routing or the rotation (and capability checks see them)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def is_fair(self, queue: str) -> bool:
        return SEPARATOR not in queue and (self.fair_all or queue in self.fair)

    def _route(self, item: PushItem) -> PushItem:
        if not self.is_fair(item.queue):
            return item
        return PushItem(item.payload, tenant_queue(item.queue, payload_tenant(item.payload)), item.delay, item.priority)

    # -- writes ---------------------------------------------------------------------------------
    def push(self, payload: str, queue: str, delay: float = 0, priority: int = 0) -> None:
        item = self._route(PushItem(payload, queue, delay, priority))
        self.inner.push(item.payload, item.queue, item.delay, item.priority)

    def bulk(self, items: Sequence[PushItem]) -> None:
        self.inner.bulk([self._route(i) for i in items])

    # -- reservations ---------------------------------------------------------------------------
    def tenants(self, queue: str) -> list[str]:
        """Tenants with a sub-queue of `queue` holding jobs ('' for jobs without a tenant)."""
        prefix = queue + SEPARATOR
        return [q[len(prefix):] for q in self.inner.queues() if q.startswith(prefix)]

    def _rotation(self, queue: str, stale: bool = False) -> Rotation:
        rotation = self._rotations.get(queue)
        if rotation is None:
            rotation = self._rotations[queue] = Rotation(self.weights)
            stale = True
        if stale or time.monotonic() - rotation.refreshed >= self.refresh_seconds:
            rotation.set_tenants(self.tenants(queue))
        return rotation

    def _expand(self, queues: Sequence[str]) -> list[str]:
        out: list[str] = []
        for queue in queues:
            if self.is_fair(queue):
                out.extend(tenant_queue(queue, t) for t in self._rotation(queue).order())
            else:
                out.append(queue)
        return out

    def pop(self, queue: str, worker_id: str) -> ReservedJob | None:
        if not self.is_fair(queue):
            return self.inner.pop(queue, worker_id)  # type: ignore[no-any-return]
        for stale in (False, True):  # the known tenants ran dry: look for new ones once
            rotation = self._rotation(queue, stale)
            for tenant in rotation.order():
                job = self.inner.pop(tenant_queue(queue, tenant), worker_id)
                if job is not None:
                    rotation.served(tenant)
                    return job  # type: ignore[no-any-return]
        return None

    # -- reads ----------------------------------------------------------------------------------
    def sizes(self, queue: str) -> QueueSizes:
        if not self.is_fair(queue):
            return self.inner.sizes(queue)  # type: ignore[no-any-return]
        total = [0, 0, 0]
        for tenant in self.tenants(queue) or [""]:
            s = self.inner.sizes(tenant_queue(queue, tenant))
            total = [total[0] + s.pending, total[1] + s.delayed, total[2] + s.reserved]
        return QueueSizes(*total)

    def clear(self, queue: str) -> int:
        if not self.is_fair(queue):
            return int(self.inner.clear(queue))
        return sum(int(self.inner.clear(tenant_queue(queue, t))) for t in self.tenants(queue)) + int(self.inner.clear(queue))

    def queues(self) -> list[str]:
        """Queue names as workers know them: sub-queues fold into their queue."""
        return sorted({q.split(SEPARATOR, 1)[0] for q in self.inner.queues()})

    def close(self) -> None:
        self.inner.close()


class FairBlockingDriver(FairDriver):
    """A FairDriver over a driver that can wait for jobs (Redis)."""

    def pop_blocking(self, queues: Sequence[str], worker_id: str, timeout: float) -> ReservedJob | None:
        expanded = self._expand(queues)
        job = self.inner.pop_blocking(expanded, worker_id, timeout) if expanded else None
        if job is None:
            for queue in queues:  # maybe a new tenant: look once more with a fresh list, without waiting
                if self.is_fair(queue):
                    job = self.pop(queue, worker_id)
                    if job is not None:
                        return job
            return None
        queue, _, tenant = job.queue.partition(SEPARATOR)
        if _ and queue in self._rotations:
            self._rotations[queue].served(tenant)
        return job  # type: ignore[no-any-return]


def tenancy_settings(manager: QueueManager) -> dict[str, Any]:
    defaults: dict[str, Any] = {"fair_queues": [], "weights": {}, "refresh_seconds": 1.0, "tenants": []}
    return {**defaults, **dict(manager.config.get("tenancy") or {})}


def install(manager: QueueManager) -> None:
    """Wrap the database and redis connectors when config/queue.py names fair queues."""
    settings = tenancy_settings(manager)
    fair = list(settings["fair_queues"])
    if not fair:
        return
    weights = {str(k): int(v) for k, v in dict(settings["weights"]).items()}
    refresh = float(settings["refresh_seconds"])
    for name in ("database", "redis"):
        inner_connector = DEFAULT_CONNECTORS[name]

        def connector(m: Any, conn: str, config: Mapping[str, Any], _inner: Any = inner_connector) -> Any:
            inner = _inner(m, conn, config)
            cls = FairBlockingDriver if isinstance(inner, BlockingPop) else FairDriver
            return cls(inner, fair, weights, refresh)

        manager.add_connector(name, connector)
