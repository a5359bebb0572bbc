"""QueueFake / BusFake: every assertion passes when it should and fails with a list of what was pushed."""
from __future__ import annotations

import asyncio

import pytest

from app.Queue.QueueManager import manager
from app.Testing.JobTesting import BusFake, QueueFake, restore_all
from tests.fixtures.console_jobs import BrokenJob, EmailJob, ReportJob


def fails(fn, *args, match: str | None = None) -> str:
    with pytest.raises(AssertionError, match=match) as info:
        fn(*args)
    return str(info.value)


def test_fake_records_pushes_instead_of_storing_them(queue_env):
    fake = QueueFake()
    job_id = EmailJob.dispatch("x@example.com")
    assert job_id and manager().size("emails") == 0
    fake.assert_pushed(EmailJob)
    fake.assert_pushed_on("emails", EmailJob)
    fake.restore()
    assert EmailJob.dispatch() and manager().size("emails") == 1


def test_assert_pushed_with_count_and_predicate(queue_fake):
    EmailJob.dispatch("a@x")
    EmailJob.dispatch("b@x")
    queue_fake.assert_pushed(EmailJob, 2)
    queue_fake.assert_pushed(EmailJob, lambda job: job.to == "b@x")
    queue_fake.assert_pushed(EmailJob, lambda job, queue: queue == "emails")
    message = fails(queue_fake.assert_pushed, EmailJob, 3, match="pushed 3 time")
    assert "Pushed: EmailJob on database:emails; EmailJob on database:emails" in message
    fails(queue_fake.assert_pushed, EmailJob, lambda job: job.to == "c@x", match="matching the predicate")
    fails(queue_fake.assert_pushed, ReportJob, match="Expected ReportJob to be pushed")


def test_assert_pushed_matches_subclasses_with_isinstance(queue_fake):
    class UrgentEmail(EmailJob):
        pass

    UrgentEmail().dispatch()
    queue_fake.assert_pushed(EmailJob)
    fails(queue_fake.assert_pushed, UrgentEmail, 2)


def test_assert_pushed_on(queue_fake):
    ReportJob().on_queue("reports").dispatch()
    queue_fake.assert_pushed_on("reports", ReportJob)
    message = fails(queue_fake.assert_pushed_on, "default", ReportJob, match="on queue 'default'")
    assert "ReportJob on database:reports" in message


def test_assert_not_pushed(queue_fake):
    EmailJob.dispatch()
    queue_fake.assert_not_pushed(ReportJob)
    queue_fake.assert_not_pushed(EmailJob, lambda job: job.to == "nobody")
    fails(queue_fake.assert_not_pushed, EmailJob, match="not to be pushed, but it was pushed 1 time")


def test_assert_nothing_pushed(queue_fake):
    queue_fake.assert_nothing_pushed()
    ReportJob.dispatch()
    assert "Pushed: ReportJob on database:default" in fails(queue_fake.assert_nothing_pushed)


def test_assert_pushed_times_and_count(queue_fake):
    assert fails(queue_fake.assert_pushed_times, EmailJob, 1).endswith("Nothing was pushed.")
    EmailJob.dispatch()
    manager().later(30, ReportJob())
    manager().bulk([ReportJob(), ReportJob()])
    queue_fake.assert_pushed_times(EmailJob, 1)
    queue_fake.assert_pushed_times(ReportJob, 3)
    queue_fake.assert_count(4)
    assert "ReportJob on database:default (delay 30s)" in fails(queue_fake.assert_count, 2, match="Expected 2 job")
    fails(queue_fake.assert_pushed_times, ReportJob, 2)


def test_async_dispatch_is_faked_too(queue_fake):
    asyncio.run(manager().apush(ReportJob()))
    queue_fake.assert_pushed(ReportJob)


def test_assert_batched_and_chained_record_through_the_bus_fake_hook(queue_fake):
    queue_fake.assert_nothing_batched()
    fails(queue_fake.assert_batched, match="a batch to be dispatched")
    hook = manager().bus_fake
    assert hook is queue_fake
    batch_id = hook.record_batch(object(), [ReportJob(), ReportJob()], name="Import")
    hook.record_chain(object(), [EmailJob("a@x"), ReportJob(1)], name="ETL")
    assert batch_id
    queue_fake.assert_batched(lambda b: b.name == "Import" and len(b.jobs) == 2)
    message = fails(queue_fake.assert_batched, lambda b: len(b.jobs) == 3, match="matching batch")
    assert "batch 'Import' of [ReportJob, ReportJob]" in message and "chain 'ETL' of [EmailJob, ReportJob]" in message
    fails(queue_fake.assert_nothing_batched)
    queue_fake.assert_chained([EmailJob, ReportJob])
    queue_fake.assert_chained([EmailJob("a@x"), ReportJob(1)])
    fails(queue_fake.assert_chained, [EmailJob("other@x"), ReportJob(1)], match=r"chain of \[EmailJob, ReportJob\]")
    fails(queue_fake.assert_chained, [ReportJob, EmailJob])
    fails(queue_fake.assert_chained, [EmailJob])
    fails(queue_fake.assert_nothing_pushed)


def test_only_fakes_the_named_job_classes(queue_env):
    with QueueFake(only=[EmailJob]) as fake:
        EmailJob.dispatch()
        ReportJob.dispatch()
    fake.assert_pushed(EmailJob)
    fake.assert_not_pushed(ReportJob)
    assert queue_env.size("default") == 1 and queue_env.size("emails") == 0


def test_context_manager_restores_the_real_queue_even_after_an_error(queue_env):
    with pytest.raises(RuntimeError):
        with QueueFake():
            raise RuntimeError("test body failed")
    assert "push" not in queue_env.__dict__ and queue_env.bus_fake is None
    ReportJob.dispatch()
    assert queue_env.size("default") == 1


def test_nested_fakes_restore_in_order_and_restore_all_undoes_leftovers(queue_env):
    outer = QueueFake()
    inner = BusFake()
    ReportJob.dispatch()
    inner.assert_dispatched(ReportJob)
    inner.assert_dispatched_times(ReportJob, 1)
    inner.assert_not_dispatched(EmailJob)
    fails(inner.assert_nothing_dispatched)
    outer.assert_nothing_pushed()
    inner.restore()
    assert queue_env.bus_fake is outer
    restore_all(queue_env)
    assert not outer.active and "push" not in queue_env.__dict__


def test_pushing_a_non_job_is_refused(queue_fake):
    with pytest.raises(TypeError, match="only Job instances"):
        manager().push(object())  # type: ignore[arg-type]


def test_seed_style_fake_without_restore_does_not_leak_part_1(queue_env):
    QueueFake()
    BrokenJob.dispatch()
    assert queue_env.size("default") == 0


def test_seed_style_fake_without_restore_does_not_leak_part_2(queue_env):
    assert "push" not in queue_env.__dict__
    BrokenJob.dispatch()
    assert queue_env.size("default") == 1


def test_bus_fake_assertions_fail_with_what_was_dispatched(bus_fake):
    EmailJob.dispatch()
    bus_fake.assert_dispatched(EmailJob, 1)
    assert "Pushed: EmailJob on database:emails" in fails(bus_fake.assert_dispatched, ReportJob)
    fails(bus_fake.assert_dispatched_times, EmailJob, 2, match="pushed 2 time")
    fails(bus_fake.assert_not_dispatched, EmailJob, match="not to be pushed")
    bus_fake.assert_not_dispatched(EmailJob, lambda job: job.to == "z@x")


def test_real_batch_and_chain_dispatch_are_recorded_and_store_nothing(queue_fake):
    from app.Jobs.Batch import batch
    from app.Jobs.Chain import chain
    from app.Models.JobBatch import JobBatch

    batch_id = batch([ReportJob(1), ReportJob(2)]).name("Nightly").dispatch()
    chain([EmailJob("a@x"), ReportJob(3)]).name("Welcome").dispatch()

    queue_fake.assert_batched(lambda b: b.name == "Nightly" and len(b.jobs) == 2)
    queue_fake.assert_chained([EmailJob, ReportJob])
    assert queue_fake.pushed(ReportJob) == [] and queue_fake.pushed(EmailJob) == []  # no member reached a queue
    assert JobBatch.find(batch_id) is None
