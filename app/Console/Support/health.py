"""The checks behind queue:health: each returns one line of status, never raises."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from app.Queue.errors import QueueError
from app.Queue.Support.time import now
from app.Queue.WorkerRegistry import WorkerRegistry
from app.Console.Support.targets import known_queues

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str


def guarded(name: str, fn: Callable[[], Check]) -> Check:
    """Run one check; an exception becomes a FAIL with its first line."""
    try:
        return fn()
    except Exception as exc:
        text = str(exc).strip().splitlines()
        detail = text[0] if text else type(exc).__name__
        return Check(name, FAIL, detail if isinstance(exc, QueueError) else f"{type(exc).__name__}: {detail}")


def check_app_key(qm: QueueManager) -> Check:
    qm.codec  # raises ConfigurationError on a missing or malformed APP_KEY
    return Check("APP_KEY", OK, "set and valid")


def check_migrations(qm: QueueManager) -> Check:
    # lazy: SQLAlchemy only for a database connection's check
    from app.Queue.Database import migrator
    from app.Queue.Database.connection import describe, translate_errors

    engine = qm.engine()
    with translate_errors(str(engine.url)):
        at = migrator.current(engine)
    heads = migrator.heads(engine)
    if at not in heads:
        return Check("migrations", FAIL, f"database at {at or 'nothing'}, latest is {', '.join(heads)}; run `python artisan migrate`")
    return Check("migrations", OK, f"at {at} ({describe(str(engine.url))})")


def connections_in_use(qm: QueueManager, extra: list[str]) -> list[str]:
    """The default connection, those named by define_queue, and any asked for."""
    names = [qm.default_connection] + [d.connection for d in qm.definitions.values() if d.connection] + extra
    return list(dict.fromkeys(names))


def check_connection(qm: QueueManager, name: str) -> Check:
    config = qm.connection_config(name)
    driver = qm.connection(name)
    if getattr(driver, "runs_inline", False):
        return Check(f"connection {name}", OK, "sync: jobs run in the dispatching process")
    queue = str(config.get("queue", "default"))
    sizes = driver.sizes(queue)
    return Check(f"connection {name}", OK, f"{config.get('driver', name)} reachable; {queue}: {sizes.pending} pending, {sizes.reserved} reserved")


def check_cache(qm: QueueManager) -> Check:
    qm.cache.get("queue:health")
    return Check("cache store", OK, f"{qm.config.get('cache_store', 'database')} reachable")


def check_workers(qm: QueueManager, connections: list[str]) -> Check:
    """Live heartbeats; a worker that vanished without stopping is reported and dropped from the index."""
    registry = WorkerRegistry(qm.cache)
    live, gone = registry.workers()
    registry.prune(gone)
    waiting = sum(qm.connection(c).sizes(q).pending for c in connections for q in _queues(qm, c))
    note = f"; {len(gone)} stopped without saying goodbye (killed?): {', '.join(gone)}" if gone else ""
    if not live:
        if waiting:
            return Check("workers", FAIL, f"{waiting} job(s) waiting and no worker heartbeat; start one with `python artisan queue:work`{note}")
        return Check("workers", WARN, f"no worker is running (nothing waiting){note}")
    oldest = max(now() - float(w.get("last_seen", 0)) for w in live)
    summary = ", ".join(f"{w['id']} ({'busy' if w.get('current') else 'idle'})" for w in live)
    return Check("workers", WARN if gone else OK, f"{len(live)} alive, last heartbeat at most {oldest:.0f}s ago: {summary}{note}")


def _queues(qm: QueueManager, connection: str) -> list[str]:
    if getattr(qm.connection(connection), "runs_inline", False):
        return []
    return known_queues(qm, connection)


def run_checks(qm: QueueManager, extra_connections: list[str]) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    checks = [guarded("APP_KEY", lambda: check_app_key(qm)), guarded("migrations", lambda: check_migrations(qm))]
    try:
        connections = connections_in_use(qm, extra_connections)
    except QueueError as exc:
        return checks + [Check("configuration", FAIL, str(exc))]
    results = [guarded(f"connection {c}", lambda c=c: check_connection(qm, c)) for c in connections]  # type: ignore[misc]
    skipped = [Check(f"connection {c}", SKIP, f"not in use; check it with --connection={c}")
               for c in qm.config["connections"] if c not in connections]
    checks += results + skipped + [guarded("cache store", lambda: check_cache(qm))]
    reachable = [c for c, r in zip(connections, results) if r.status == OK]
    checks.append(guarded("workers", lambda: check_workers(qm, reachable)))
    return checks
