"""Testing fakes: assert_dispatched_sync, assert_pushed_with_chain, assert_batch_count, assert_batched on the
pending batch, and the with_fake_queue_interactions() job wrapper."""
from __future__ import annotations

import pytest

from app.Jobs.Batch import batch
from app.Jobs.Chain import chain
from app.Testing.JobTesting import BusFake, QueueFake
from tests.fixtures.jobs import NoopJob, RecordJob
from tests.fixtures.parity_jobs import InteractingJob


def test_assert_dispatched_sync(witness):
    with QueueFake() as fake:
        RecordJob.dispatch_now(str(witness), "now")
        RecordJob(str(witness), "queued").dispatch()
        fake.assert_dispatched_sync(RecordJob)
        fake.assert_dispatched_sync(RecordJob, 1)
        fake.assert_dispatched_sync(RecordJob, lambda job: job.tag == "now")
        fake.assert_not_dispatched_sync(NoopJob)
        with pytest.raises(AssertionError, match="dispatched synchronously"):
            fake.assert_dispatched_sync(NoopJob)
        with pytest.raises(AssertionError):
            fake.assert_dispatched_sync(RecordJob, lambda job: job.tag == "queued")
    assert witness.read_text().split()[0] == "now"  # dispatch_now still ran


def test_assert_pushed_with_chain(witness):
    with BusFake() as fake:
        RecordJob(str(witness), "a").with_chain([NoopJob(), RecordJob(str(witness), "c")]).dispatch()
        fake.assert_pushed_with_chain(RecordJob, [NoopJob, RecordJob(str(witness), "c")])
        with pytest.raises(AssertionError, match="pushed with the chain"):
            fake.assert_pushed_with_chain(RecordJob, [NoopJob])
        with pytest.raises(AssertionError):
            fake.assert_pushed_with_chain(NoopJob, [RecordJob])


def test_assert_batch_count_and_batched_with_a_predicate_on_the_pending_batch(witness):
    with QueueFake() as fake:
        fake.assert_batch_count(0)
        batch([NoopJob(), NoopJob()]).name("import").allow_failures(1).on_queue("imports").dispatch()
        batch([NoopJob()]).dispatch()
        chain([NoopJob()]).dispatch()
        fake.assert_batch_count(2)
        fake.assert_batched(lambda b: b.name == "import" and len(b.jobs) == 2 and b.allows_failures()
                            and b.allowed_failures == 1 and b.queue == "imports")
        fake.assert_batched(lambda b: isinstance(b.pending.jobs[0], NoopJob))
        with pytest.raises(AssertionError, match="3 batch"):
            fake.assert_batch_count(3)
        with pytest.raises(AssertionError, match="matching batch"):
            fake.assert_batched(lambda b: b.name == "export")


def test_fake_queue_interactions_released():
    job = InteractingJob("release").with_fake_queue_interactions()
    job.handle()
    job.assert_released()
    job.assert_released(delay=30)
    job.assert_not_deleted()
    job.assert_not_failed()
    with pytest.raises(AssertionError, match="delay 5s"):
        job.assert_released(delay=5)
    with pytest.raises(AssertionError, match="not to be released"):
        job.assert_not_released()


def test_fake_queue_interactions_deleted_and_failed():
    deleted = InteractingJob("delete").with_fake_queue_interactions()
    deleted.handle()
    deleted.assert_deleted()
    deleted.assert_not_released()
    failed = InteractingJob("fail").with_fake_queue_interactions()
    failed.handle()
    failed.assert_failed()
    failed.assert_failed(ValueError)
    failed.assert_failed("bad input")
    with pytest.raises(AssertionError, match="KeyError"):
        failed.assert_failed(KeyError)
    nothing = InteractingJob("none").with_fake_queue_interactions()
    nothing.handle()
    nothing.assert_not_released()
    nothing.assert_not_deleted()
    nothing.assert_not_failed()
    with pytest.raises(AssertionError, match="to be failed"):
        nothing.assert_failed()
    assert nothing.action == "none" and nothing.attempts == 1
