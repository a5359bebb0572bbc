"""The retry rules of one job, read from its envelope with the worker's options as defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from app.Queue.Support.time import now
from app.Queue.WorkerOptions import WorkerOptions

POLICY_CACHE_MAX = 512  # distinct retry settings kept; beyond, the cache starts again



@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """max_tries 0 means unlimited; retry_until (unix seconds) replaces max_tries when set."""

    max_tries: int
    timeout: float
    backoff: tuple[int, ...]
    max_exceptions: int | None
    retry_until: float | None
    fail_on_timeout: bool

    @classmethod
    def resolve(cls, envelope: Mapping[str, Any], options: WorkerOptions, queue_max_attempts: int | None = None,
                job: Any = None) -> RetryPolicy:
        """Let the job's own settings win over the queue definition, then over the worker's options.

        A `backoff()` (or `retry_after()`) method of `job` is called here, once per attempt, as Laravel's is.
        The policy is a pure function of the values it is read from, so one is kept per distinct set of
        them (`_POLICIES`): a worker builds the same few again for every job otherwise (~1.5 us each).
        """
        get = envelope.get
        backoff = get("backoff")
        if backoff is None and job is not None:
            backoff = job_backoff(job)
        try:
            key = (get("maxTries"), get("timeout"), tuple(backoff) if type(backoff) is list else backoff,
                   get("maxExceptions"), get("retryUntil"), get("failOnTimeout"), queue_max_attempts,
                   options.max_tries, options.timeout, options.backoff)
            policy = _POLICIES.get(key)
        except TypeError:  # an unhashable value read from an (untrusted) envelope
            return cls._build(envelope, options, queue_max_attempts, backoff)
        if policy is None:
            policy = cls._build(envelope, options, queue_max_attempts, backoff)
            if len(_POLICIES) >= POLICY_CACHE_MAX:
                _POLICIES.clear()
            _POLICIES[key] = policy
        return policy

    @classmethod
    def _build(cls, envelope: Mapping[str, Any], options: WorkerOptions, queue_max_attempts: int | None,
               backoff: Any) -> RetryPolicy:
        max_tries = envelope.get("maxTries")
        if max_tries is None:
            max_tries = queue_max_attempts if queue_max_attempts is not None else options.max_tries
        timeout = envelope.get("timeout")
        if backoff is None:
            backoff_t = tuple(options.backoff)
        elif isinstance(backoff, (list, tuple)):
            backoff_t = tuple(int(b) for b in backoff) or (0,)
        else:
            backoff_t = (int(backoff),)
        return cls(
            max_tries=int(max_tries),
            timeout=float(options.timeout if timeout is None else timeout),
            backoff=backoff_t,
            max_exceptions=envelope.get("maxExceptions"),
            retry_until=envelope.get("retryUntil"),
            fail_on_timeout=bool(envelope.get("failOnTimeout")),
        )

    def backoff_for(self, attempts: int) -> int:
        """Seconds to wait before the next attempt: the list entry for this attempt, or its last."""
        index = min(max(attempts, 1), len(self.backoff)) - 1
        return max(0, self.backoff[index])

    def already_exceeded(self, attempts: int) -> str | None:
        """Say why the job must fail before running (too many attempts, retry_until passed)."""
        if self.retry_until is not None:
            if now() > self.retry_until:
                return "has passed its retry_until time"
            return None
        if self.max_tries > 0 and attempts > self.max_tries:
            return f"has been attempted too many times ({attempts - 1} of max_tries={self.max_tries})"
        return None

    def will_exceed(self, attempts: int) -> bool:
        """Tell whether a failure of this attempt is the last one allowed."""
        if self.retry_until is not None:
            return now() >= self.retry_until
        return self.max_tries > 0 and attempts >= self.max_tries


def job_backoff(job: Any) -> Any:
    """Call the job's `backoff()` method (or the seed's `retry_after()`); None when it has none."""
    for name in ("backoff", "retry_after"):
        method = getattr(job, name, None)
        if callable(method):
            value = method()
            if isinstance(value, bool) or not (isinstance(value, (int, float)) or (
                    isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value))):
                raise TypeError(f"{type(job).__name__}.{name}() must return seconds or a list of seconds, got {value!r}")
            return value
    return None


# Resolved policies by the values they were read from (frozen: shared safely between jobs and threads).
# Keys compare like numbers do (1 == 1.0 == True): every field of a policy reads them that way too.
_POLICIES: dict[tuple[Any, ...], RetryPolicy] = {}
