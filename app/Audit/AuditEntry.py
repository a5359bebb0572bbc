"""One audit entry, built from a job's envelope metadata only (never its data, never decrypted fields)."""
from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache
from typing import Any, NamedTuple

from app.Queue.Support.time import now

EVENTS = ("dispatched", "started", "released", "failed", "retried", "forgotten", "cleared", "batch_cancelled",
          "imported", "tenant_forgotten")


class AuditEntry(NamedTuple):
    """Who did what to which job, when and where (a tuple: the worker builds two per job, cheaply)."""

    event: str
    job_id: str | None
    job_class: str | None
    queue: str | None
    connection: str | None
    tenant: str | None
    attempt: int | None
    at: float
    host: str
    actor: str
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


TEXT_MAX = 191  # characters kept of a host, actor or tenant (the columns' width)


@lru_cache(maxsize=1)
def host() -> str:
    return socket.gethostname()[:TEXT_MAX]


def actor() -> str:
    """The acting user or command: QUEUE_AUDIT_ACTOR, else `user: artisan <command>` or `user: <program>`."""
    explicit = os.environ.get("QUEUE_AUDIT_ACTOR")
    if explicit:
        return explicit[:TEXT_MAX]
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or str(os.getuid())
    argv = sys.argv or ["?"]
    program = os.path.basename(argv[0])
    if program == "artisan" and len(argv) > 1:
        program = f"artisan {argv[1]}"
    return f"{user}: {program}"[:TEXT_MAX]


def tenant_of(envelope: dict[str, Any]) -> str | None:
    """The tenant an envelope names (set by app/Tenancy), or None."""
    value = envelope.get("tenant")
    return None if value is None else str(value)[:TEXT_MAX]


def entry(event: str, envelope: dict[str, Any] | None = None, attempt: int | None = None, who: str | None = None,
          detail: str | None = None, **fields: Any) -> AuditEntry:
    """Build an entry from an envelope's metadata (uuid, displayName, queue, connection, tenant) and `fields`."""
    env = envelope or {}
    values: dict[str, Any] = {
        "job_id": env.get("uuid"), "job_class": env.get("displayName"), "queue": env.get("queue"),
        "connection": env.get("connection"), "tenant": tenant_of(env),
    }
    values.update(fields)
    return AuditEntry(event=event, attempt=attempt, at=now(), host=host(), actor=who or actor(),
                      detail=None if detail is None else str(detail)[:191], **values)
