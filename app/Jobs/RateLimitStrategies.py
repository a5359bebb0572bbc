"""Rate-limit strategies beside the fixed window: sliding window and token bucket, on either cache store.

`RateLimit(..., strategy="fixed" | "sliding" | "token_bucket")`; fixed stays the default.

- sliding: the sliding-window counter. Hits are counted per epoch-aligned window of
  `per_seconds`; a hit is allowed while `previous * (1 - elapsed / per_seconds) + current`
  stays within `max_attempts`, so a burst at a window's edge cannot double the rate as it can
  with fixed windows. A refused hit is taken back (an atomic decrement), so waiting jobs do
  not use up the window.
- token_bucket: a bucket of `max_attempts` tokens refilled at `max_attempts / per_seconds`
  per second, kept as GCRA's single "theoretical arrival time"; a full bucket allows a burst
  of `max_attempts`, then one job per refill interval. The read-modify-write runs under a
  short lock of the lock store (cache_locks table, or Redis), so workers never share a token.

Both judge time with the one clock (`now()`), so freezegun moves them.
"""
from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING

from app.Queue.Support.time import now

if TYPE_CHECKING:
    from app.Queue.Cache.Locks import LockStore
    from app.Queue.contracts import CacheStore

STRATEGIES = ("fixed", "sliding", "token_bucket")
MIN_WAIT = 0.25
SKEW_MARGIN = 0.1
LOCK_TRIES = 50  # ~0.5 s of waiting for the bucket's lock before reporting "try again shortly"


class SlidingWindowLimiter:
    """Sliding-window counters made of two epoch-aligned fixed windows."""

    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def attempt(self, key: str, max_attempts: int, decay: float) -> float | None:
        """Take a slot: None when allowed, else seconds until the estimate falls under the limit."""
        t = now()
        index = math.floor(t / decay)
        elapsed = t - index * decay
        weight = 1 - elapsed / decay
        previous = int(self.cache.get(f"{key}:{index - 1}") or 0)
        current = self.cache.increment(f"{key}:{index}", 1, 2 * decay)
        if previous * weight + current <= max_attempts:
            return None
        self.cache.increment(f"{key}:{index}", -1, 2 * decay)  # refused: not counted
        return max(MIN_WAIT, _sliding_wait(previous, current - 1, max_attempts, decay, elapsed) + SKEW_MARGIN)


def _sliding_wait(previous: int, current: int, limit: int, decay: float, elapsed: float) -> float:
    """Seconds until one more hit fits: within this window if the previous one fades enough, else into the next."""
    if current + 1 <= limit and previous > 0:
        # previous * (1 - x / decay) + current + 1 <= limit  =>  x >= decay * (1 - (limit - current - 1) / previous)
        fade_at = decay * (1 - (limit - current - 1) / previous)
        if fade_at < decay:
            return max(0.0, fade_at - elapsed)
    # next window: current becomes previous; current * (1 - x / decay) + 1 <= limit
    x = decay * (1 - (limit - 1) / current) if current > 0 else 0.0
    return decay - elapsed + max(0.0, x)


class TokenBucketLimiter:
    """A token bucket kept as GCRA's theoretical arrival time (`<key>:tat`), updated under a lock."""

    def __init__(self, cache: CacheStore, locks: LockStore) -> None:
        self.cache = cache
        self.locks = locks

    def attempt(self, key: str, max_attempts: int, decay: float) -> float | None:
        """Take a token: None when allowed, else seconds until the next token."""
        interval = decay / max_attempts
        owner = uuid.uuid4().hex
        for _ in range(LOCK_TRIES):
            if self.locks.acquire(f"{key}:lock", owner, 5):
                break
            time.sleep(0.01)
        else:
            return MIN_WAIT  # busy: the caller comes back shortly
        try:
            t = now()
            tat = max(float(self.cache.get(f"{key}:tat") or 0.0), t)
            new_tat = tat + interval
            if new_tat - t <= decay + 1e-9:
                self.cache.put(f"{key}:tat", new_tat, 2 * decay)
                return None
            return max(MIN_WAIT, new_tat - decay - t + SKEW_MARGIN)
        finally:
            self.locks.release(f"{key}:lock", owner)
