"""Dispatch after the surrounding SQLAlchemy transaction commits (Laravel's `afterCommit`).

A job with `after_commit = True` (or `.after_commit()`), or any job on a connection with
`"after_commit": True` in config/queue.py (unless the job says `.before_commit()`), that is
dispatched while an ORM `Session` of this thread (or asyncio task) has a transaction open is
held on that session: it is queued when the session commits, and dropped when it rolls back.
Outside a transaction it is queued at once. `dispatch()` returns the job's uuid either way
(a held job that a unique lock refuses at commit time is not queued).

Savepoints (`begin_nested`) do not release held jobs: they wait for the outermost commit, and
a savepoint rolled back alone does not drop them (unlike Laravel, which tracks each level).
The transactions are followed through SQLAlchemy's Session events, installed once per
process when the first Job subclass is defined. Core `Connection` transactions are not
followed (their `commit` event fires before the commit happens): use a Session.
"""
from __future__ import annotations

import contextvars
import logging
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.after_commit")

HELD = "queue_after_commit"  # session.info key: jobs waiting for this session's commit
_open: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("queue_open_sessions", default=())
_installed = [False]  # the Session event hooks are process-wide, installed once


def install() -> None:
    """Follow ORM Session transactions (idempotent)."""
    if _installed[0]:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_transaction_create", _created)
    event.listen(Session, "after_transaction_end", _ended)
    event.listen(Session, "after_commit", _committed)
    event.listen(Session, "after_rollback", _rolled_back)
    _installed[0] = True


def _created(session: Any, transaction: Any) -> None:
    if transaction.parent is None and session not in _open.get():
        _open.set((*_open.get(), session))


def _ended(session: Any, transaction: Any) -> None:
    if transaction.parent is None:
        _open.set(tuple(s for s in _open.get() if s is not session))
        session.info.pop(HELD, None)  # neither committed nor rolled back explicitly (closed): dropped


def _committed(session: Any) -> None:
    if session.in_nested_transaction():  # a savepoint was released: the outer transaction may still roll back
        return
    held = session.info.pop(HELD, None)
    if not held:
        return
    for m, job, queue, connection, delay in held:
        try:
            m._push_now(job, queue, connection, delay)
        except Exception:  # the data is committed; a job that cannot be queued must not hide that
            log.exception("queueing %s after commit failed", type(job).__name__)


def _rolled_back(session: Any) -> None:
    if session.in_nested_transaction():  # only a savepoint rolled back: held jobs wait for the outer transaction
        return
    dropped = session.info.pop(HELD, None)
    if dropped:
        log.info("transaction rolled back: %d job(s) held for after-commit dropped", len(dropped))


def wants_after_commit(job: Job, connection_config: Any) -> bool:
    """The job's own choice (after_commit / before_commit), else its connection's `after_commit`."""
    own = job.__dict__.get("_after_commit")
    if own is None:
        value = getattr(type(job), "after_commit", None)
        own = value if isinstance(value, bool) else None
    if own is not None:
        return own
    return bool(connection_config.get("after_commit"))


def hold(manager: QueueManager, job: Job, queue: str | None, connection: str | None, delay: float | None) -> str | None:
    """Hold the job on the innermost open session; returns its uuid, or None when no transaction is open."""
    sessions = _open.get()
    if not sessions:
        return None
    session = sessions[-1]
    job.job_id = job.job_id or str(uuid.uuid4())
    session.info.setdefault(HELD, []).append((manager, job, queue, connection, delay))
    return job.job_id
