"""Refuse a stored record the worker cannot verify or decode: record it in failed_jobs, remove it, go on.

Nothing read from an unverified record is trusted: its uuid is not used as the failed_jobs
key (a forged uuid could overwrite the evidence of a real failure, or break the column's
length or encoding), so a fresh uuid names the row and the claimed one only appears, quoted
and cut short, in the exception text. The payload is stored as text the database accepts
(bytes that are not UTF-8 become backslash escapes). Only the uuid of a payload whose
signature verifies names its failed_jobs row.
"""
from __future__ import annotations

import json
import logging
import re
import uuid as uuid_mod
from typing import TYPE_CHECKING, Any

from app.Queue.AttemptHistory import exception_text
from app.Queue.Cache.lock_owners import owner_token
from app.Queue.errors import InvalidPayloadError
from app.Queue.Payload import verify
from app.Queue.events import JobFailed

if TYPE_CHECKING:
    from app.Queue.contracts import ReservedJob
    from app.Queue.QueueManager import QueueManager

log = logging.getLogger("queue.worker")

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLAIM_SHOWN = 80  # characters of an unverified uuid quoted in the exception text


def storable_text(raw: Any) -> str:
    """Turn a stored record into text any failed-job store accepts (valid UTF-8, no lone surrogates)."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return bytes(raw).decode("utf-8", "backslashreplace")
    text = raw if isinstance(raw, str) else repr(raw)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # surrogateescape'd bytes (Redis) or \ud800-style JSON escapes decoded
        return text.encode("utf-8", "surrogateescape" if _escaped_bytes_only(text) else "backslashreplace").decode(
            "utf-8", "backslashreplace")


def _escaped_bytes_only(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def claimed_uuid(raw: Any) -> str | None:
    """The uuid an unverified record claims, when it is a canonical uuid string (for lock bookkeeping only)."""
    try:
        data = json.loads(raw)
        value = data.get("uuid") if isinstance(data, dict) else None
    except Exception:  # RecursionError, MemoryError-free garbage, bad bytes: no claim
        return None
    return value if isinstance(value, str) and UUID_SHAPE.fullmatch(value) else None


def trusted_uuid(raw: Any, keys: Any) -> str | None:
    """The payload's uuid when its signature verifies (then it names the failed_jobs row), else None."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        verify(text, keys)
        value = json.loads(text).get("uuid")
    except Exception:
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 64 and _storable(value) else None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return text.isprintable()


def _claim_note(raw: Any) -> str:
    try:
        data = json.loads(raw)
        value = data.get("uuid") if isinstance(data, dict) else None
    except Exception:
        return ""
    if value is None:
        return ""
    shown = storable_text(repr(value))[:CLAIM_SHOWN]
    return f" (the record claims uuid {shown}, not trusted)"


def refuse(manager: QueueManager, reserved: ReservedJob, exc: Exception) -> str:
    """Record a record the worker cannot run in failed_jobs, free its unique lock, remove it; returns the row's uuid."""

    if not isinstance(exc, InvalidPayloadError):
        exc = InvalidPayloadError(f"cannot decode job payload: {type(exc).__name__}: {_short(exc)}")
    raw = reserved.payload
    job_uuid = trusted_uuid(raw, manager.codec.keys)
    if job_uuid is None:
        job_uuid = str(uuid_mod.uuid4())
        exc = InvalidPayloadError(f"{exc}{_claim_note(raw)}")
    log.error("refusing job on %s: %s", reserved.queue, exc)
    manager.failed.log(reserved.connection_name, reserved.queue, storable_text(raw), storable_text(exception_text(exc)), job_uuid)
    reserved.delete()
    _free_unique_lock(manager, reserved, raw)
    manager.events.dispatch(JobFailed(None, {"uuid": job_uuid, "queue": reserved.queue,
                                             "connection": reserved.connection_name}, exc))
    return job_uuid


def _short(exc: BaseException) -> str:
    try:
        return storable_text(str(exc))[:300]
    except Exception:
        return type(exc).__name__


def _free_unique_lock(manager: QueueManager, reserved: ReservedJob, raw: Any) -> None:
    """Free the unique lock held by the queued copy this record claims to be: that copy will not run now."""
    claimed = claimed_uuid(raw)
    if claimed is None:
        return
    try:  # a whole canonical uuid ends every owner token, so this prefix matches that one copy only
        manager.locks.release_owned_by_prefix(owner_token(reserved.connection_name, reserved.queue, claimed))
    except Exception:
        log.exception("cannot free the unique lock of refused job %s", claimed)
