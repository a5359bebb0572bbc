"""How a unique lock names the queued copy that holds it: `unique/<connection>/<queue>/<job uuid>`.

The queue side needs the name too (a refused record frees the lock its copy held, app/Queue/Quarantine.py),
so it lives here rather than in app/Jobs/UniqueLock.py, which re-exports it.
"""
from __future__ import annotations


def owner_token(connection: str, queue: str, job_uuid: str) -> str:
    """Name the queued copy that holds a lock."""
    return f"{queue_owner_prefix(connection, queue)}{job_uuid}"


def queue_owner_prefix(connection: str, queue: str) -> str:
    """The part of an owner token every copy on one connection's queue shares."""
    return f"unique/{connection}/{queue}/"
