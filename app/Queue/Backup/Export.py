"""Write an export of a connection to a text stream (queue:export)."""
from __future__ import annotations

from typing import IO, TYPE_CHECKING, Sequence

from app.Queue.Backup.Snapshot import payload_filter, snapshot
from app.Queue.Backup.SignedLines import SignedWriter, export_key

if TYPE_CHECKING:
    from app.Queue.QueueManager import QueueManager


def export(manager: QueueManager, connection: str, out: IO[str], queues: Sequence[str] = (), tenant: str | None = None,
           include_failed: bool = False, include_batches: bool = False) -> dict[str, int]:
    """Write the signed export of `connection` to `out`; returns how many records of each type."""
    from config.app import app_key

    writer = SignedWriter(out, export_key(app_key()), connection)
    counts = {"job": 0, "failed": 0, "batch": 0}
    records = snapshot(manager, connection, queues, include_failed, include_batches, payload_filter(tenant))
    writer.open()
    for record in records:
        writer.write(record)
        counts[record["type"]] += 1
    writer.close()
    return counts


def import_keys() -> list[bytes]:
    """The keys an export may be signed with: from APP_KEY, then APP_PREVIOUS_KEYS."""
    from config.app import app_key, previous_keys

    return [export_key(k) for k in [app_key(), *previous_keys()]]
