"""The one clock: every time read goes through here so freezegun controls drivers and workers."""
from __future__ import annotations

import time as _time
from datetime import date, datetime, timedelta, timezone
from app.Queue.DispatchChecks import check_delay


def now() -> float:
    """Current unix time in seconds (float)."""
    return _time.time()


# The last float `float_text` spelt and its text: one tuple, replaced whole, so a thread reads a matching pair.
_last_text: tuple[float, str] = (0.0, "0.0")


def float_text(t: float) -> str:
    """`repr(t)` (json's spelling of a float), remembered for the last `t` asked.

    A dispatch spells its one time in the payload (createdAt) and again in its pending status
    (updated_at); the shortest round-trip digits of a timestamp cost ~6,000 instructions.
    Zero is never remembered (0.0 and -0.0 are equal but spelt apart).
    """
    global _last_text
    last = _last_text
    if t == last[0] and t:
        return last[1]
    text = repr(t)
    _last_text = (t, text)
    return text


def now_int() -> int:
    """Current unix time in whole seconds, the unit stored in tables."""
    return int(_time.time())


def utcnow() -> datetime:
    """Current aware UTC datetime."""
    return datetime.now(timezone.utc)


def seconds_until(when: float | int | timedelta | datetime | date | None) -> float:
    """Turn a delay given as seconds, a timedelta or a datetime into seconds from now (>= 0)."""
    if when is None:
        return 0.0
    if isinstance(when, bool):
        raise TypeError("a delay must be seconds, a timedelta or a datetime, not a bool")
    if isinstance(when, (int, float)):
        try:
            seconds = float(when)
        except OverflowError:
            digits = len(str(abs(when))) if abs(when) < 10**4000 else "thousands of"
            raise ValueError(f"delay must be at most 10 years in seconds, got an int of {digits} digits") from None
        return max(0.0, check_delay(seconds))
    if isinstance(when, timedelta):
        return max(0.0, check_delay(when.total_seconds()))
    if isinstance(when, datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        return max(0.0, check_delay(aware.timestamp() - now()))
    if isinstance(when, date):
        return seconds_until(datetime(when.year, when.month, when.day, tzinfo=timezone.utc))
    raise TypeError(f"a delay must be seconds, a timedelta or a datetime, got {type(when).__name__}")
