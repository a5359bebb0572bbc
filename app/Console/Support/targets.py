"""Parse `<queue>` / `<connection>:<queue>` arguments and find the queues worth showing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.Console.Command import UsageError

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


def parse_target(text: str, qm: QueueManager, default_connection: str | None = None) -> tuple[str, str]:
    """Split `emails` or `redis:emails` into (connection, queue); an unknown connection is a clear error."""
    raw = (text or "").strip()
    connection, sep, queue = raw.partition(":")
    if not sep:
        connection, queue = "", raw
    if not queue or ":" in queue:
        raise UsageError(f"name a queue as QUEUE or CONNECTION:QUEUE, got {text!r}")
    if not connection:
        definition = qm.definitions.get(queue)
        connection = (definition.connection if definition else None) or default_connection or qm.default_connection
    qm.connection_config(connection)  # unknown connection: one line naming the configured ones
    return connection, queue


def known_queues(qm: QueueManager, connection: str) -> list[str]:
    """Queues holding jobs, declared with define_queue, or the connection's default, sorted."""
    names = set(qm.connection(connection).queues())
    names.update(n for n, d in qm.definitions.items() if (d.connection or qm.default_connection) == connection)
    names.add(str(qm.connection_config(connection).get("queue", "default")))
    return sorted(names)


def format_seconds(seconds: float | None) -> str:
    """Show a duration compactly: 850ms, 12.3s, 4m05s, 2h10m."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
