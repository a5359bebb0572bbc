"""Rate limits for jobs and queues, shared by every worker through the cache store.

    class EmailJob(Job, RateLimited):
        def get_rate_limits(self) -> list[RateLimit]:
            return [RateLimit(max_attempts=100, per_seconds=3600),
                    RateLimit(max_attempts=10, per_seconds=60, key=f"user:{self.recipient}")]

    QueueManager.rate_limit("emails", max_jobs=1000, per_seconds=3600)

Windows are fixed and start at the first hit (Laravel's limiter); the first
`max_attempts` hits of a window pass (an atomic increment of the window's counter).
The worker asks before it runs a job (`manager.run_gates`); a job over a
limit is released until its window frees, without using up an attempt. Several limits
are checked in order and the first refusal stops the check, so a refused job can have
used a slot of an earlier limit (never more jobs than allowed, sometimes fewer).
Limits apply on the database and redis connections; `sync` runs jobs at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.Queue.contracts import CacheStore
from app.Queue.Serializer import class_path
from app.Queue.Support.time import now
from app.Jobs.RateLimitStrategies import STRATEGIES
from app.Jobs.RateLimitStrategies import SlidingWindowLimiter
from app.Jobs.RateLimitStrategies import TokenBucketLimiter

if TYPE_CHECKING:
    from app.Jobs.Job import Job
    from app.Queue.QueueManager import QueueManager

MIN_WAIT = 0.25  # seconds; never release a limited job for less than this
SKEW_MARGIN = 0.1  # seconds added to a wait, so a job comes back after its window, not at its edge


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_attempts` jobs per `per_seconds`; `key` shares the limit across classes (None: per class)."""

    max_attempts: int
    per_seconds: float
    key: str | None = None
    strategy: str = "fixed"  # fixed | sliding | token_bucket (app/Jobs/RateLimitStrategies.py)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"RateLimit.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"RateLimit.max_attempts must be a positive integer, got {self.max_attempts!r}")
        if isinstance(self.per_seconds, bool) or not isinstance(self.per_seconds, (int, float)) or self.per_seconds <= 0:
            raise ValueError(f"RateLimit.per_seconds must be a positive number, got {self.per_seconds!r}")

    def cache_key(self, job: Job) -> str:
        """Name the counter: the explicit key, else the job class and the limit's numbers."""
        kind = "" if self.strategy == "fixed" else f"{self.strategy}:"  # each strategy keeps its own state
        if self.key:
            return f"ratelimit:{kind}key:{self.key}:{self.per_seconds:g}"
        return f"ratelimit:{kind}job:{class_path(type(job))}:{self.max_attempts}:{self.per_seconds:g}"

    def attempt(self, manager: Any, job: Job) -> float | None:
        """Take a slot with this limit's strategy: None when allowed, else seconds to wait."""
        wait: float | None = limiter_for(self.strategy, manager).attempt(self.cache_key(job), self.max_attempts, self.per_seconds)
        return wait

    def to_payload(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "per_seconds": self.per_seconds, "key": self.key,
                "strategy": self.strategy}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RateLimit:
        return cls(int(data["max_attempts"]), data["per_seconds"], data.get("key"), str(data.get("strategy") or "fixed"))


def limiter_for(strategy: str, manager: Any) -> Any:
    """The limiter of one strategy over the manager's cache store (and lock store for the token bucket)."""
    if strategy == "sliding":
        return SlidingWindowLimiter(manager.cache)
    if strategy == "token_bucket":
        return TokenBucketLimiter(manager.cache, manager.locks)
    return Limiter(manager.cache)


class RateLimited:
    """Mixin: a job that declares its own limits."""

    def get_rate_limits(self) -> list[RateLimit]:
        """The limits this job must respect (checked by the worker before each run)."""
        return []


class Limiter:
    """Fixed-window hit counters in a CacheStore (Laravel's RateLimiter, with exact windows).

    `<key>:timer` holds the end of the open window. The first hit after it ends opens the
    next one: `add("<key>:after:<old end>")` lets exactly one process choose the new end,
    and every hit of that window increments `<key>:<end>`. Windows are judged with the one
    clock (`now()`), so they are exact on every store and freezegun moves them; store TTLs
    (twice the window) only collect garbage.
    """

    def __init__(self, cache: CacheStore) -> None:
        self.cache = cache

    def _window_end(self, key: str, decay: float) -> float | None:
        """End of the open window, opening one when none is; None if a race left it unclear."""
        t = now()
        end = self.cache.get(f"{key}:timer")
        if end is not None and t < float(end):
            return float(end)
        claim, new_end = f"{key}:after:{end}", t + decay
        if self.cache.add(claim, new_end, 2 * decay):
            self.cache.put(f"{key}:timer", new_end, 2 * decay)
            return new_end
        winner = self.cache.get(claim)  # another process opened this window a moment ago
        return float(winner) if winner is not None and float(winner) > t else None

    @staticmethod
    def _counter(key: str, end: float) -> str:
        return f"{key}:{end:.6f}"

    def hit(self, key: str, decay: float) -> int:
        """Count one hit in the open window (opening one for `decay` seconds if needed)."""
        end = self._window_end(key, decay)
        if end is None:
            return 2**31  # unclear for a moment: count as over any limit, the caller retries shortly
        return self.cache.increment(self._counter(key, end), 1, 2 * decay)

    def attempts(self, key: str) -> int:
        """Hits counted in the open window (0 when none is open)."""
        end = self.cache.get(f"{key}:timer")
        if end is None or now() >= float(end):
            return 0
        return int(self.cache.get(self._counter(key, float(end))) or 0)

    def too_many_attempts(self, key: str, max_attempts: int) -> bool:
        """Tell whether the open window is used up."""
        return self.attempts(key) >= max_attempts

    def available_in(self, key: str) -> float:
        """Seconds until the open window ends, plus SKEW_MARGIN (at least MIN_WAIT)."""
        end = self.cache.get(f"{key}:timer")
        return max(MIN_WAIT, float(end) - now() + SKEW_MARGIN) if end is not None else MIN_WAIT

    def attempt(self, key: str, max_attempts: int, decay: float) -> float | None:
        """Take a slot: None when allowed, else seconds until the window frees."""
        if self.hit(key, decay) <= max_attempts:
            return None
        return self.available_in(key)

    def clear(self, key: str) -> None:
        """End the open window now, so the next hit opens a fresh one."""
        end = self.cache.get(f"{key}:timer")
        if end is not None and now() < float(end):
            self.cache.put(f"{key}:timer", now(), 2 * max(1.0, float(end) - now()))


class RateLimitGate:
    """The worker's run gate: queue limits (define_queue / rate_limit), then the job's own limits."""

    def __init__(self, manager: QueueManager) -> None:
        self.manager = manager

    def __call__(self, job: Job, envelope: dict[str, Any]) -> float | None:
        queue = str(envelope.get("queue") or job.queue or "")
        definition = self.manager.definitions.get(queue)
        if definition is not None and definition.rate_limit_enabled:  # a Limiter only where a queue limit is set
            wait = Limiter(self.manager.cache).attempt(f"ratelimit:queue:{queue}", int(definition.rate_limit_max or 1),
                                                       float(definition.rate_limit_window or 1))
            if wait is not None:
                return wait
        if isinstance(job, RateLimited):
            for limit in job.get_rate_limits():
                wait = limit.attempt(self.manager, job)
                if wait is not None:
                    return wait
        return None


def register(manager: QueueManager) -> None:
    """Make the worker ask the rate limits before it runs a job."""
    manager.run_gates.append(RateLimitGate(manager))


__all__ = ["RateLimit", "RateLimited", "Limiter", "RateLimitGate"]
