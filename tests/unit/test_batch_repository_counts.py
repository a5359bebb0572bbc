"""The batch repository's own guards, below the worker's replay guard: a member reported twice counts once,
and each callback is won by exactly one update.

The redelivery tests (tests/drivers/test_batch_redelivery.py) now stop a duplicate before it reaches
the repository (the payload is known completed), so these call the repository directly: they are what
catches a repository that counts a member twice or lets `then` fire again (tests/mutations/run.py).
"""
from __future__ import annotations

from app.Queue.QueueManager import QueueManager


def test_a_member_reported_twice_counts_once_and_each_callback_fires_once(queue_env: QueueManager):
    repository = queue_env.batches.repository
    record = repository.store("twice", 2, {"then": ["x"], "finally": ["y"]})

    first = repository.record_success(record.id, "member-a", "uuid-a")
    again = repository.record_success(record.id, "member-a", "uuid-a")  # the redelivered copy reports it again
    assert first is not None and again is not None
    assert (first.batch.pending_jobs, again.batch.pending_jobs) == (1, 1)
    assert first.fire == () and again.fire == ()

    last = repository.record_success(record.id, "member-b", "uuid-b")
    assert last is not None and last.batch.pending_jobs == 0 and set(last.fire) == {"then", "finally"}

    late = repository.record_success(record.id, "member-b", "uuid-b")  # and the last member's duplicate
    assert late is not None and late.fire == () and late.batch.pending_jobs == 0


def test_a_member_that_failed_then_succeeded_on_retry_leaves_the_failed_list(queue_env: QueueManager):
    repository = queue_env.batches.repository
    record = repository.store("retried", 1, {"allow_failures": True})
    failed = repository.record_failure(record.id, "member-a", "uuid-1")
    assert failed is not None and failed.batch.failed_jobs == 1 and failed.batch.failed_job_ids == ["uuid-1"]
    succeeded = repository.record_success(record.id, "member-a", "uuid-2")
    assert succeeded is not None
    assert (succeeded.batch.pending_jobs, succeeded.batch.failed_jobs, succeeded.batch.failed_job_ids) == (0, 0, [])
