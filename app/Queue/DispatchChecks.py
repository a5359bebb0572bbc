"""Checks made when a job is dispatched, so a bad value fails there with its name, not later on a worker.

Each limit is one every driver can store and every worker can read back: queue names fit
the 191-character columns and never contain the `,` and `:` that queue lists and
`connection:queue` targets use as separators; priorities fit a 32-bit column; delays are
finite and under ten years; attribute values nest at most MAX_DEPTH levels, hold no lone
surrogates and no integers JSON readers refuse; a payload is at most QUEUE_MAX_PAYLOAD_BYTES.
"""
from __future__ import annotations

import math
import re
import sys
from typing import TYPE_CHECKING, Any

from app.Queue.errors import SerializationError

if TYPE_CHECKING:
    from app.Jobs.Job import Job

MAX_QUEUE_NAME = 191                     # the queue columns are VARCHAR(191) (utf8mb4 index limit)
MAX_PRIORITY = 2**31 - 1                 # jobs.priority is a 32-bit INT
MAX_DELAY = 10 * 365 * 86400.0           # seconds; a later job is almost surely a unit mistake
MAX_DEPTH = 64                           # nesting of lists/dicts/tuples in one attribute
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300  # json.loads on the worker refuses longer ints
MAX_ATTEMPTS = 2**31 - 1
DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024  # under MariaDB's default 16 MiB max_allowed_packet

_MAX_INT = 10**MAX_INT_DIGITS
_BAD_QUEUE_CHARS = re.compile("[,:\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_queue_name(name: Any, what: str = "queue name") -> str:
    """Refuse a queue name that some driver, command or worker could not handle."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > MAX_QUEUE_NAME:
        raise ValueError(f"{what} must be at most {MAX_QUEUE_NAME} characters, got {len(name)}")
    bad = _BAD_QUEUE_CHARS.search(name)
    if bad:
        raise ValueError(f"{what} {name[:60]!r} contains {bad.group()!r}; ',' and ':' separate queues and "
                         "connection:queue in commands, and control characters are refused")
    check_text(name, what)
    return name


def check_priority(priority: Any, what: str = "priority") -> int:
    """Refuse a priority that is not an int within the 32-bit range every driver stores."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"{what} must be an int, got {priority!r}")
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise ValueError(f"{what} must be between {-MAX_PRIORITY} and {MAX_PRIORITY}, got {_short(priority)}")
    return priority


def check_delay(seconds: float, what: str = "delay") -> float:
    """Refuse a delay that is not finite or is more than MAX_DELAY seconds away."""
    if not math.isfinite(seconds):
        raise ValueError(f"{what} must be a finite number of seconds, got {seconds!r}")
    if seconds > MAX_DELAY:
        raise ValueError(f"{what} must be at most {MAX_DELAY:.0f} s (10 years), got {_short(seconds)}")
    return seconds


def check_policy(job: Job) -> None:
    """Refuse retry/timeout settings the worker could not apply (they were once reported as tampering)."""
    name = type(job).__name__
    for attr in ("max_tries", "max_exceptions"):
        value = getattr(job, attr)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ATTEMPTS):
            raise SerializationError(f"{name}.{attr} must be a whole number >= 0 or None, got {value!r}")
    timeout = job.timeout
    if timeout is not None and not _seconds(timeout):
        raise SerializationError(f"{name}.timeout must be a finite number of seconds >= 0 or None, got {timeout!r}")
    for attr in ("backoff", "retry_after"):
        value = getattr(job, attr)
        if value is None or callable(value):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(_seconds(v) for v in values):
            raise SerializationError(f"{name}.{attr} must be seconds >= 0 or a list of them (e.g. [10, 30, 60]), got {value!r}")
    check_priority(job.priority or 0, f"{name}.priority")


def check_text(value: str, path: str) -> str:
    """Refuse a string that cannot be stored as UTF-8 (a lone surrogate from bad decoding)."""
    if not value.isascii() and _SURROGATE.search(value):
        raise SerializationError(f"attribute {path!r} holds a lone surrogate ({_SURROGATE.search(value).group()!r}), "  # type: ignore[union-attr]
                                 "which is not valid UTF-8; decode the text with errors='replace' first")
    return value


def check_int(value: int, path: str) -> int:
    """Refuse an integer with more digits than JSON readers accept."""
    if not -_MAX_INT < value < _MAX_INT:
        raise SerializationError(f"attribute {path!r} holds an integer of more than {MAX_INT_DIGITS} digits; "
                                 "store it as a string")
    return value


def check_depth(depth: int, path: str) -> None:
    """Refuse values nested deeper than MAX_DEPTH (or a list/dict that contains itself)."""
    if depth > MAX_DEPTH:
        shown = path if len(path) <= 80 else path[:60] + "..." + path[-17:]
        raise SerializationError(f"attribute {shown!r} nests more than {MAX_DEPTH} levels deep "
                                 "(or a list/dict contains itself)")


def check_payload_size(payload: str, limit: int, job: Job | None, queue: str) -> None:
    """Refuse a payload over `limit` bytes (QUEUE_MAX_PAYLOAD_BYTES): store big data elsewhere, queue its key."""
    if len(payload) * 4 <= limit:  # at most 4 bytes per character: certainly within the limit
        return
    size = len(payload.encode("utf-8", "surrogatepass"))
    if size > limit:
        name = type(job).__name__ if job is not None else "job"
        raise SerializationError(f"{name} payload for queue {queue!r} is {size} bytes, over the {limit}-byte limit "
                                 "(QUEUE_MAX_PAYLOAD_BYTES); store large data elsewhere and queue a reference to it")


def _seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= MAX_DELAY


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"a number of more than {MAX_INT_DIGITS} digits"
    return text if len(text) <= 30 else f"{text[:12]}...({len(text)} digits)"
