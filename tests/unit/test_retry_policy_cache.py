"""RetryPolicy.resolve keeps one policy per distinct set of retry settings, never serving one set another's."""
from __future__ import annotations

from app.Queue import RetryPolicy as retry_policy_module
from app.Queue.RetryPolicy import RetryPolicy
from app.Queue.WorkerOptions import WorkerOptions


def _envelope(**members: object) -> dict[str, object]:
    return {"uuid": "u", "job": "app.Jobs:X", "maxTries": None, "maxExceptions": None, "backoff": None,
            "timeout": None, "retryUntil": None, "failOnTimeout": False, **members}


class MethodBackoff:
    """A job whose backoff() answers differently per attempt, as Laravel allows."""

    def __init__(self) -> None:
        self.calls = 0

    def backoff(self) -> list[int]:
        self.calls += 1
        return [self.calls * 10]


def test_the_same_settings_give_the_same_policy_object():
    options = WorkerOptions()
    first = RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2]), options, None)
    again = RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2]), options, None)
    assert again is first and first == RetryPolicy(4, 60.0, (1, 2), None, None, False)


def test_a_job_whose_settings_differ_is_not_served_a_cached_policy():
    options = WorkerOptions()
    RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2]), options, None)
    assert RetryPolicy.resolve(_envelope(maxTries=5, backoff=[1, 2]), options, None).max_tries == 5
    assert RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 3]), options, None).backoff == (1, 3)
    assert RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2], timeout=5), options, None).timeout == 5.0
    assert RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2], failOnTimeout=True), options, None).fail_on_timeout
    assert RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2], maxExceptions=2), options, None).max_exceptions == 2
    assert RetryPolicy.resolve(_envelope(maxTries=4, backoff=[1, 2], retryUntil=9.5), options, None).retry_until == 9.5


def test_queue_and_worker_defaults_are_part_of_what_is_kept():
    envelope = _envelope()
    assert RetryPolicy.resolve(envelope, WorkerOptions(max_tries=3), None).max_tries == 3
    assert RetryPolicy.resolve(envelope, WorkerOptions(max_tries=3), 7).max_tries == 7
    assert RetryPolicy.resolve(envelope, WorkerOptions(max_tries=2), None).max_tries == 2
    assert RetryPolicy.resolve(envelope, WorkerOptions(timeout=9), None).timeout == 9.0
    assert RetryPolicy.resolve(envelope, WorkerOptions(backoff=(4,)), None).backoff == (4,)


def test_a_backoff_method_is_still_asked_on_every_attempt():
    job = MethodBackoff()
    first = RetryPolicy.resolve(_envelope(), WorkerOptions(), None, job)
    second = RetryPolicy.resolve(_envelope(), WorkerOptions(), None, job)
    assert (first.backoff, second.backoff, job.calls) == ((10,), (20,), 2)


def test_unhashable_settings_from_a_stored_envelope_still_resolve():
    policy = RetryPolicy.resolve(_envelope(maxExceptions=[3], maxTries=2), WorkerOptions(), None)
    assert policy.max_tries == 2 and policy.max_exceptions == [3]


def test_the_cache_is_bounded():
    for n in range(retry_policy_module.POLICY_CACHE_MAX + 10):
        RetryPolicy.resolve(_envelope(maxTries=n + 1000), WorkerOptions(), None)
    assert len(retry_policy_module._POLICIES) <= retry_policy_module.POLICY_CACHE_MAX
