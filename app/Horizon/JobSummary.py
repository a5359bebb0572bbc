"""Turn a stored payload (untrusted JSON, possibly encrypted) into the fields the dashboard shows."""
from __future__ import annotations

from typing import Any

from app.Horizon.Redaction import displayable_data, parse_stored, tag_list


def summary(raw: str | bytes | None, **extra: Any) -> dict[str, Any]:
    """The list fields of a job: id, class name, queue, tags, created time, plus `extra` (status, attempts, ...)."""
    envelope = parse_stored(raw)
    created = envelope.get("createdAt")
    item = {
        "id": str(envelope.get("uuid") or ""),
        "name": str(envelope.get("displayName") or envelope.get("job") or "unreadable payload"),
        "queue": str(envelope.get("queue") or ""),
        "connection": str(envelope.get("connection") or ""),
        "tags": tag_list(envelope),
        "created_at": float(created) if isinstance(created, (int, float)) else None,
    }
    item.update(extra)
    return item


def detail(raw: str | bytes | None, **extra: Any) -> dict[str, Any]:
    """The detail fields of a job: the summary plus its policy and data (ciphertext shown as a marker)."""
    envelope = parse_stored(raw)
    item = summary(raw, **extra)
    item.update({
        "class": str(envelope.get("job") or ""),
        "max_tries": envelope.get("maxTries"), "timeout": envelope.get("timeout"), "backoff": envelope.get("backoff"),
        "priority": envelope.get("priority"), "batch_id": envelope.get("batchId"),
        "encrypted": bool(envelope.get("encrypted")),
        "data": displayable_data(envelope),
    })
    return item
