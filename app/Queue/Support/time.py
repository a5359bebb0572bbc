"""The one clock: every time read goes through here so freezegun controls drivers and workers."""
from __future__ import annotations

import time as _time
from datetime import date, datetime, timedelta, timezone
from app.Queue.DispatchChecks import check_delay


def now() -> float:
    """Current unix time in seconds (float)."""
    return _time.time()


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
