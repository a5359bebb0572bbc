"""A completed job's row (its columns, list view and filter match), shared by the SQL and Redis stores."""
from __future__ import annotations

import json
from typing import Any, Sequence

from app.Horizon.Paging import Filters

COLUMNS = ("uuid", "connection", "queue", "name", "tags", "data", "attempts", "runtime", "created_at", "completed_at")
_UUID, _QUEUE, _NAME, _TAGS, _DATA, _COMPLETED = (COLUMNS.index(c) for c in ("uuid", "queue", "name", "tags", "data", "completed_at"))
HINT_SLACK = 5.0  # seconds between a job's status record and its completion time


def row_item(row: Sequence[Any]) -> dict[str, Any]:
    """The list fields of a completed job from its row values in COLUMNS order."""
    uuid, connection, queue, name, tags, _data, attempts, runtime, created_at, completed_at = row
    return {
        "id": uuid, "name": name, "queue": queue, "connection": connection,
        "tags": json.loads(tags or "[]") if isinstance(tags, str) else list(tags or []),
        "attempts": int(attempts), "runtime": float(runtime), "created_at": float(created_at),
        "completed_at": float(completed_at), "status": "completed",
    }


def matches(row: Sequence[Any], f: Filters) -> bool:
    """Whether a completed row passes the filters."""
    tags = row[_TAGS]
    tags = json.loads(tags or "[]") if isinstance(tags, str) else tags
    return ((not f.id or row[_UUID] == f.id) and (not f.job or row[_NAME] == f.job)
            and (not f.queue or row[_QUEUE] == f.queue) and (not f.tag or f.tag in tags))
