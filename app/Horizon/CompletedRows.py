"""A completed job's row (its columns, list view and filter match), shared by the SQL and Redis stores."""
from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, Sequence

from app.Horizon.Paging import Filters

COLUMNS = ("uuid", "connection", "queue", "name", "tags", "data", "attempts", "runtime", "created_at", "completed_at")
_UUID, _QUEUE, _NAME, _TAGS, _DATA, _COMPLETED = (COLUMNS.index(c) for c in ("uuid", "queue", "name", "tags", "data", "completed_at"))
HINT_SLACK = 5.0  # seconds between a job's status record and its completion time
_float_text = float.__repr__  # what json's C encoder writes for a finite float


def row_text(row: Sequence[Any]) -> tuple[str, str] | None:
    """A recorder's row as compact JSON (`json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)`,
    byte for byte) and its completed_at as JSON spells it; None for a row of other types (the caller encodes it).

    Spelt with one f-string: the C encoder's per-call setup costs ~0.2 us of a row's ~1.9 (the three floats'
    shortest spelling, ~0.9, is the floor; for a whole flush's list the encoder stays cheaper). Only the
    recorder's own shapes qualify (six str, an int, three finite floats), so every value is spelt exactly as
    the encoder would spell it (the strings by the encoder's own function, a float by float.__repr__).
    """
    if len(row) != 10:
        return None
    uuid, connection, queue, name, tags, data, attempts, runtime, created, completed = row
    if (type(uuid) is str and type(connection) is str and type(queue) is str and type(name) is str and type(tags) is str
            and type(data) is str and type(attempts) is int and type(runtime) is float and type(created) is float
            and type(completed) is float and runtime - runtime == 0.0 and created - created == 0.0
            and completed - completed == 0.0):  # x - x is 0.0 for finite floats only (NaN, Infinity: the encoder)
        score = _float_text(completed)
        s = encode_basestring
        return (f"[{s(uuid)},{s(connection)},{s(queue)},{s(name)},{s(tags)},{s(data)},{attempts},"
                f"{_float_text(runtime)},{_float_text(created)},{score}]", score)
    return None


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
